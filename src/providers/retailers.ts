import type { Retailer } from "../catalog/retailers.ts";
import type { Config } from "../config.ts";
import { createProviderClient, ProviderError, type ProviderLogger } from "./client.ts";

/** A customer's login at a retailer, as typed into the link page. */
export interface RetailerLogin {
  username: string;
  password: string;
}

export type LoginCheck =
  | { outcome: "accepted" }
  /** The retailer said no; `reason` is its message, or ours when it gave none. */
  | { outcome: "refused"; reason: string }
  /** No answer we can act on (timeout, network, 429, 5xx): nothing is concluded. */
  | { outcome: "unavailable" }
  /** No gateway URL is configured for this retailer. */
  | { outcome: "not_configured" };

/**
 * Retailer login checks. Retailers have no public login API, so Patchbay
 * talks to a retailer login gateway that speaks one small protocol:
 *
 *   POST {base}/retailers/{slug}/login-checks  {"username", "password"}
 *   → 2xx: accepted; 401/403/422: refused (`{"message"}` shown to the customer);
 *     anything else: unavailable.
 *
 * The base URL is PATCHBAY_PROVIDER_URL_RETAILER_<SLUG> for one retailer, else
 * PATCHBAY_PROVIDER_URL_RETAILERS for all of them. Calls go through the one
 * provider client (timeouts, secret-free logs); a login is never retried.
 */
export function createRetailerGateway({ config }: { config: Pick<Config, "providerUrls"> }) {
  function providerFor(retailer: Retailer): string | null {
    const own = `retailer_${retailer.slug}`;
    if (config.providerUrls[own]) return own;
    return config.providerUrls.retailers ? "retailers" : null;
  }

  return {
    isConfigured(retailer: Retailer): boolean {
      return providerFor(retailer) !== null;
    },

    async checkLogin(retailer: Retailer, login: RetailerLogin, logger: ProviderLogger): Promise<LoginCheck> {
      const provider = providerFor(retailer);
      if (!provider) return { outcome: "not_configured" };
      const client = createProviderClient({ config, logger });
      let status: number;
      let text: string;
      try {
        const res = await client.request(provider, {
          method: "POST",
          path: `/retailers/${retailer.slug}/login-checks`,
          body: { username: login.username, password: login.password },
          retry: false,
        });
        status = res.status;
        text = res.text;
      } catch (err) {
        if (err instanceof ProviderError) return { outcome: "unavailable" };
        throw err;
      }
      if (status >= 200 && status < 300) return { outcome: "accepted" };
      if (status === 401 || status === 403 || status === 422) return { outcome: "refused", reason: refusalReason(retailer, text) };
      return { outcome: "unavailable" };
    },
  };
}

export type RetailerGateway = ReturnType<typeof createRetailerGateway>;

/** The retailer's own words when it sent some (one line, bounded), else a plain sentence. */
function refusalReason(retailer: Retailer, body: string): string {
  let message: unknown;
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    message = parsed.message ?? parsed.error;
  } catch {
    message = undefined;
  }
  if (typeof message === "string") {
    const line = message.replace(/\s+/g, " ").trim().slice(0, 200);
    if (line) return line;
  }
  return `${retailer.name} did not accept this username and password.`;
}
