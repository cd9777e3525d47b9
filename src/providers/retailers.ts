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
 *   POST {base}/retailers/{slug}/purchases  {"username", "password", "cursor", "limit"}
 *   → 200 {"purchases": [GatewayPurchase…] (oldest first, made after `cursor`),
 *          "next_cursor", "has_more"}; 401/403: the login no longer works
 *     (the connection becomes unauthenticated); anything else, or an answer
 *     not of this shape: unavailable (the sync backs off and tries again).
 *   `cursor` is the gateway's own opaque string (null: from the start of the
 *   history it keeps); Patchbay stores the last `next_cursor` and resumes there.
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

  /** The call's path under the gateway's base URL, which may have a path of its own (`…/demo/retailer-gateway`). */
  function gatewayPath(provider: string, path: string): string {
    return `${new URL(config.providerUrls[provider]!).pathname.replace(/\/+$/, "")}${path}`;
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
          path: gatewayPath(provider, `/retailers/${retailer.slug}/login-checks`),
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

    /** One page of purchases made after `cursor`; a purchases call is never retried within the call (the sync backs off). */
    async fetchPurchases(retailer: Retailer, login: RetailerLogin, cursor: string | null, limit: number, logger: ProviderLogger): Promise<PurchasePage> {
      const provider = providerFor(retailer);
      if (!provider) return { outcome: "not_configured" };
      const client = createProviderClient({ config, logger });
      let res;
      try {
        res = await client.request(provider, {
          method: "POST",
          path: gatewayPath(provider, `/retailers/${retailer.slug}/purchases`),
          body: { username: login.username, password: login.password, cursor, limit },
          retry: false,
          timeoutMs: 30_000,
        });
      } catch (err) {
        if (err instanceof ProviderError) return { outcome: "unavailable" };
        throw err;
      }
      if (res.status === 401 || res.status === 403) return { outcome: "refused", reason: refusalReason(retailer, res.text) };
      if (res.status !== 200) return { outcome: "unavailable" };
      const page = parsePurchasePage(res.text);
      return page ?? { outcome: "unavailable" };
    },
  };
}

/** A purchase as the gateway sends it: amounts are decimal strings, quantities numbers or decimal strings. */
export interface GatewayPurchase {
  id: string;
  date: string;
  subtotal: string;
  tax: string;
  total: string;
  items: Array<{
    price: string;
    quantity: string;
    product: { product_id: string | null; name: string | null; description: string | null; upc: string | null; brand: string | null };
  }>;
}

export type PurchasePage =
  | { outcome: "page"; purchases: GatewayPurchase[]; nextCursor: string | null; hasMore: boolean }
  | { outcome: "refused"; reason: string }
  | { outcome: "unavailable" }
  | { outcome: "not_configured" };

const DECIMAL = /^-?\d{1,10}(\.\d{1,4})?$/;
const MAX_TEXT = 500;

function text(v: unknown, max = MAX_TEXT): string | null {
  return typeof v === "string" && v.length <= max ? v : null;
}

function decimal(v: unknown): string | null {
  const s = typeof v === "number" && Number.isFinite(v) ? String(v) : v;
  return typeof s === "string" && DECIMAL.test(s) ? s : null;
}

/** The gateway's answer, checked field by field; anything off makes the whole page unusable (null). */
export function parsePurchasePage(body: string): PurchasePage | null {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(body) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (!raw || typeof raw !== "object" || !Array.isArray(raw.purchases) || typeof raw.has_more !== "boolean") return null;
  const nextCursor = raw.next_cursor === null || raw.next_cursor === undefined ? null : text(raw.next_cursor, 512);
  if (raw.next_cursor != null && nextCursor === null) return null;
  const purchases: GatewayPurchase[] = [];
  for (const p of raw.purchases as Record<string, unknown>[]) {
    if (!p || typeof p !== "object" || !Array.isArray(p.items)) return null;
    const id = text(p.id, 128);
    const date = text(p.date, 64);
    const [subtotal, tax, total] = [decimal(p.subtotal), decimal(p.tax), decimal(p.total)];
    if (!id || !date || Number.isNaN(Date.parse(date)) || subtotal === null || tax === null || total === null) return null;
    const items: GatewayPurchase["items"] = [];
    for (const i of p.items as Record<string, unknown>[]) {
      const product = (i?.product ?? {}) as Record<string, unknown>;
      const [price, quantity] = [decimal(i?.price), decimal(i?.quantity)];
      if (price === null || quantity === null || typeof product !== "object") return null;
      items.push({
        price,
        quantity,
        product: { product_id: text(product.product_id, 64), name: text(product.name), description: text(product.description), upc: text(product.upc, 32), brand: text(product.brand, 128) },
      });
    }
    purchases.push({ id, date, subtotal, tax, total, items });
  }
  return { outcome: "page", purchases, nextCursor, hasMore: raw.has_more };
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
