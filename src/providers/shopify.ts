import { createHmac, timingSafeEqual } from "node:crypto";
import { ProviderError, type ProviderClient } from "./client.ts";
import type { CallContext } from "./call-log.ts";

/**
 * Shopify's side of OAuth (authorization code grant with expiring offline
 * tokens): shop-domain rules, the authorize URL, the callback signature, and
 * the token endpoint. Every call to a shop goes through the provider client,
 * so PATCHBAY_PROVIDER_URL_SHOPIFY can point it at a fake; the authorize page
 * is opened by the merchant's browser and always names the real shop.
 */

/**
 * A shop's permanent domain: `name.myshopify.com`. Shopify's own rule (the
 * shop-domain check of @shopify/shopify-api) is a name starting with a letter
 * or digit followed by letters, digits, hyphens or underscores; we also hold
 * the name to what a DNS label allows (no underscore, at most 63 characters,
 * no trailing hyphen), since the domain is dialled. Case is not significant.
 */
const SHOP_DOMAIN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.myshopify\.com$/;

/** The shop domain in canonical (lower-case) form, or null if it is not one. */
export function normalizeShopDomain(input: string): string | null {
  const lower = input.toLowerCase();
  return SHOP_DOMAIN.test(lower) ? lower : null;
}

export interface AuthorizeUrlInput {
  shop: string;
  clientId: string;
  scopes: string;
  redirectUri: string;
  state: string;
}

/** `https://{shop}/admin/oauth/authorize?client_id=…&scope=…&redirect_uri=…&state=…` (offline access: no grant_options). */
export function authorizeUrl({ shop, clientId, scopes, redirectUri, state }: AuthorizeUrlInput): string {
  const url = new URL(`https://${shop}/admin/oauth/authorize`);
  url.searchParams.set("client_id", clientId);
  url.searchParams.set("scope", scopes);
  url.searchParams.set("redirect_uri", redirectUri);
  url.searchParams.set("state", state);
  return url.toString();
}

/**
 * The signature Shopify puts on a callback: every query parameter except
 * `hmac` (and the app-proxy `signature`), sorted by name, form-encoded and
 * joined with `&`, HMAC-SHA256 under the app's client secret, hex.
 */
export function callbackHmac(params: URLSearchParams, clientSecret: string): string {
  const signed = new URLSearchParams();
  const names = [...new Set(params.keys())].filter((n) => n !== "hmac" && n !== "signature").sort();
  for (const name of names) for (const value of params.getAll(name)) signed.append(name, value);
  return createHmac("sha256", clientSecret).update(signed.toString()).digest("hex");
}

/** Does the callback carry Shopify's signature? Compared in constant time. */
export function verifyCallbackHmac(params: URLSearchParams, clientSecret: string): boolean {
  const given = params.getAll("hmac");
  if (given.length !== 1 || !/^[0-9a-f]{64}$/i.test(given[0]!)) return false;
  const expected = Buffer.from(callbackHmac(params, clientSecret), "hex");
  return timingSafeEqual(expected, Buffer.from(given[0]!, "hex"));
}

/** What the token endpoint hands back; the secrets live only in this object and the vault. */
export interface ShopifyTokens {
  accessToken: string;
  refreshToken: string | null;
  scope: string;
  accessExpiresAt: Date | null;
  refreshExpiresAt: Date | null;
}

/**
 * Shopify answered, and said no (a 4xx from the token endpoint: a bad,
 * used or expired code or refresh token, or an app that was uninstalled).
 * The message carries the status only, never the body.
 */
export class ShopifyRejected extends Error {
  constructor(
    readonly status: number,
    readonly step: "code_exchange" | "token_refresh" | "access_check",
  ) {
    super(`Shopify refused the ${step.replace("_", " ")} (HTTP ${status})`);
    this.name = "ShopifyRejected";
  }
}

export interface ShopifyApiDeps {
  client: ProviderClient;
  clientId: string;
  clientSecret: string;
}

/** The calls Patchbay makes to a shop. Failures: ShopifyRejected (4xx) or ProviderError (unreachable, 5xx, junk). */
export function createShopifyApi({ client, clientId, clientSecret }: ShopifyApiDeps) {
  async function tokenRequest(shop: string, body: Record<string, string>, step: "code_exchange" | "token_refresh", now: Date, context?: CallContext): Promise<ShopifyTokens> {
    // Not retried: a code is single use, and a refresh rotates the refresh token.
    const res = await client.request("shopify", { method: "POST", path: "/admin/oauth/access_token", shop, body, retry: false, context });
    if (res.status >= 400 && res.status < 500) throw new ShopifyRejected(res.status, step);
    if (res.status !== 200) throw new ProviderError("shopify", "bad_answer");
    return parseTokens(res.text, now);
  }

  return {
    /** The callback's `code` for tokens; `expiring=1` asks for a 1-hour access token and a refresh token. */
    exchangeCode(shop: string, code: string, now: Date): Promise<ShopifyTokens> {
      return tokenRequest(shop, { client_id: clientId, client_secret: clientSecret, code, expiring: "1" }, "code_exchange", now);
    },

    /** A fresh access token; Shopify rotates the refresh token with it. */
    refreshTokens(shop: string, refreshToken: string, now: Date, context?: CallContext): Promise<ShopifyTokens> {
      return tokenRequest(shop, { client_id: clientId, client_secret: clientSecret, grant_type: "refresh_token", refresh_token: refreshToken }, "token_refresh", now, context);
    },

    /** The cheapest authenticated read: the scopes the token holds (GET /admin/oauth/access_scopes.json). */
    async checkAccess(shop: string, accessToken: string, context?: CallContext): Promise<{ status: number }> {
      const res = await client.request("shopify", { method: "GET", path: "/admin/oauth/access_scopes.json", shop, headers: { "x-shopify-access-token": accessToken }, context });
      return { status: res.status };
    },
  };
}

export type ShopifyApi = ReturnType<typeof createShopifyApi>;

function parseTokens(text: string, now: Date): ShopifyTokens {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new ProviderError("shopify", "bad_answer");
  }
  if (typeof body.access_token !== "string" || body.access_token === "") throw new ProviderError("shopify", "bad_answer");
  const at = (seconds: unknown) => (typeof seconds === "number" && seconds > 0 ? new Date(now.getTime() + seconds * 1000) : null);
  return {
    accessToken: body.access_token,
    refreshToken: typeof body.refresh_token === "string" && body.refresh_token !== "" ? body.refresh_token : null,
    scope: typeof body.scope === "string" ? body.scope : "",
    accessExpiresAt: at(body.expires_in),
    refreshExpiresAt: at(body.refresh_token_expires_in),
  };
}
