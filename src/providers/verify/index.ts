import type { ConnectorType } from "../../catalog/index.ts";
import { ProviderError, type ProviderClient } from "../client.ts";
import type { CallContext } from "../call-log.ts";
import { amazon } from "./amazon.ts";
import { avatax } from "./avatax.ts";
import { byStatus, type CheckResult, type CredentialCheck } from "./check.ts";
import { ebay } from "./ebay.ts";
import { fedex } from "./fedex.ts";
import { google } from "./google.ts";
import { mapquest } from "./mapquest.ts";
import { openai } from "./openai.ts";
import { plaid } from "./plaid.ts";
import { postmark } from "./postmark.ts";
import { printnode } from "./printnode.ts";
import { shippo } from "./shippo.ts";
import { stripe } from "./stripe.ts";
import { ups } from "./ups.ts";
import { usps } from "./usps.ts";
import { wwex } from "./wwex.ts";

export type { CheckResult, CheckStatus } from "./check.ts";

/** The credential check of every Mode A type (Shopify, Mode B, is checked with its OAuth token). */
export const CREDENTIAL_CHECKS: Record<Exclude<ConnectorType, "shopify">, CredentialCheck> = {
  stripe, avatax, shippo, printnode, postmark, mapquest, google, openai, plaid, ups, fedex, usps, amazon, ebay, wwex,
};

/**
 * Runs a type's check against its provider. Never throws for the
 * provider's sake: a timeout or a dead connection is `unreachable`.
 */
export async function checkCredentials(
  client: ProviderClient,
  type: Exclude<ConnectorType, "shopify">,
  credentials: Record<string, string>,
  mode: "sandbox" | "live",
  context?: CallContext,
): Promise<CheckResult> {
  const check = CREDENTIAL_CHECKS[type];
  try {
    const res = await client.request(check.provider, { ...check.request(credentials), mode, timeoutMs: 10_000, context });
    if (res.status === 429 || res.status >= 500) {
      return { status: "unreachable", error: `The provider answered HTTP ${res.status} at ${check.endpoint}; try again later.` };
    }
    return check.classify ? check.classify(res) : byStatus(res, check.endpoint);
  } catch (err) {
    if (err instanceof ProviderError) return { status: "unreachable", error: `${err.message} (${check.endpoint}).` };
    throw err;
  }
}
