import { amazon } from "./amazon.ts";
import { avatax } from "./avatax.ts";
import type { ConnectorDefinition } from "./definition.ts";
import { ebay } from "./ebay.ts";
import { fedex } from "./fedex.ts";
import { google } from "./google.ts";
import { mapquest } from "./mapquest.ts";
import { openai } from "./openai.ts";
import { plaid } from "./plaid.ts";
import { postmark } from "./postmark.ts";
import { printnode } from "./printnode.ts";
import { shippo } from "./shippo.ts";
import { shopify } from "./shopify.ts";
import { stripe } from "./stripe.ts";
import { ups } from "./ups.ts";
import { usps } from "./usps.ts";
import { wwex } from "./wwex.ts";

export type { ConnectorDefinition, RequiredField } from "./definition.ts";

/** The connector types, in the seeds' order. */
export const CONNECTOR_TYPES = [
  "stripe", "avatax", "shippo", "printnode", "postmark", "shopify", "mapquest", "google",
  "openai", "plaid", "ups", "fedex", "usps", "amazon", "ebay", "wwex",
] as const;

export type ConnectorType = (typeof CONNECTOR_TYPES)[number];

const definitions: Record<ConnectorType, ConnectorDefinition> = {
  stripe, avatax, shippo, printnode, postmark, shopify, mapquest, google,
  openai, plaid, ups, fedex, usps, amazon, ebay, wwex,
};

export function connectorDefinition(type: ConnectorType): ConnectorDefinition {
  return definitions[type];
}

export const catalog: readonly ConnectorDefinition[] = CONNECTOR_TYPES.map((t) => definitions[t]);
