import { createHmac, randomBytes } from "node:crypto";
import "@shopify/shopify-api/adapters/node";
import { ApiVersion, LogSeverity, shopifyApi } from "@shopify/shopify-api";
import assert from "node:assert/strict";
import type { TestApp } from "./app.ts";
import { startFakeProvider, type RecordedRequest } from "./fake-provider.ts";
import { asKey, createTenant } from "./fixtures.ts";

export const SHOPIFY_CLIENT_ID = "fake_shopify_client_id";
export const SHOPIFY_CLIENT_SECRET = "shpss_fake_client_secret_0123456789";

export interface FakeShopifyOptions {
  /** Delay every token-endpoint answer (to make refreshers overlap). */
  tokenDelayMs?: number;
  accessTtlSeconds?: number;
  refreshTtlSeconds?: number;
}

/**
 * Shopify's token endpoint and one authenticated read, on 127.0.0.1. It
 * behaves like the real one where Patchbay relies on it: a code works once,
 * `expiring=1` yields a 1-hour access token and a refresh token, a refresh
 * rotates the refresh token and refuses a spent one.
 */
export async function startFakeShopify(opts: FakeShopifyOptions = {}) {
  const codes = new Map<string, string>(); // code → shop
  const liveAccess = new Set<string>();
  const liveRefresh = new Set<string>();
  /** How many times each refresh token was presented. */
  const refreshUses = new Map<string, number>();
  const issued: { access: string; refresh: string | null }[] = [];
  /** Refresh token spent → the pair minted in exchange. */
  const rotations = new Map<string, { access: string; refresh: string | null }>();
  let refuseRefresh = false;
  let down = false;

  const mint = (expiring: boolean) => {
    const access = `shpat_${randomBytes(16).toString("hex")}`;
    const refresh = expiring ? `shprt_${randomBytes(16).toString("hex")}` : null;
    liveAccess.add(access);
    if (refresh) liveRefresh.add(refresh);
    issued.push({ access, refresh });
    return {
      access_token: access,
      scope: "read_orders,write_fulfillments",
      ...(expiring ? { expires_in: opts.accessTtlSeconds ?? 3600, refresh_token: refresh, refresh_token_expires_in: opts.refreshTtlSeconds ?? 7_776_000 } : {}),
    };
  };

  const tokenEndpoint = async (req: RecordedRequest) => {
    if (opts.tokenDelayMs) await new Promise((r) => setTimeout(r, opts.tokenDelayMs));
    if (down) return { status: 503, body: { errors: "Service unavailable" } };
    const body = (req.headers["content-type"] ?? "").includes("json") ? (JSON.parse(req.body) as Record<string, string>) : Object.fromEntries(new URLSearchParams(req.body));
    if (body.client_id !== SHOPIFY_CLIENT_ID || body.client_secret !== SHOPIFY_CLIENT_SECRET) return { status: 401, body: { error: "invalid_client" } };
    if (body.grant_type === "refresh_token") {
      const token = body.refresh_token ?? "";
      refreshUses.set(token, (refreshUses.get(token) ?? 0) + 1);
      if (refuseRefresh || !liveRefresh.delete(token)) return { status: 400, body: { error: "invalid_grant", error_description: "refresh token is invalid or was already used" } };
      const minted = mint(true);
      rotations.set(token, issued.at(-1)!);
      return { body: minted };
    }
    const shop = codes.get(body.code ?? "");
    if (!shop) return { status: 400, body: { error: "invalid_request", error_description: "The authorization code was not found or was already used" } };
    codes.delete(body.code!);
    return { body: mint(body.expiring === "1") };
  };

  const fake = await startFakeProvider({
    "POST /admin/oauth/access_token": tokenEndpoint,
    "GET /admin/oauth/access_scopes.json": (req) =>
      liveAccess.has(String(req.headers["x-shopify-access-token"] ?? ""))
        ? { body: { access_scopes: [{ handle: "read_orders" }] } }
        : { status: 401, body: { errors: "[API] Invalid API key or access token (unrecognized login or wrong password)" } },
  });

  return {
    ...fake,
    issued,
    refreshUses,
    rotations,
    /** What Shopify does when the merchant approves: a fresh single-use code for the shop. */
    issueCode(shop: string): string {
      const code = randomBytes(16).toString("hex");
      codes.set(code, shop);
      return code;
    },
    /** While set, every refresh is refused (the app was uninstalled, say). */
    refuseRefreshes(value = true): void {
      refuseRefresh = value;
    },
    /** The token endpoint answers 503 while down. */
    setDown(value: boolean): void {
      down = value;
    },
    /** Slow the token endpoint down (so racing refreshers overlap). */
    setTokenDelay(ms: number): void {
      opts.tokenDelayMs = ms;
    },
    tokenCalls: () => fake.requests.filter((r) => r.path === "/admin/oauth/access_token"),
  };
}

export type FakeShopify = Awaited<ReturnType<typeof startFakeShopify>>;

/** Shopify's own library, configured as the app: the independent judge of callback signatures. */
export function shopifyLibrary(secret = SHOPIFY_CLIENT_SECRET) {
  return shopifyApi({
    apiKey: SHOPIFY_CLIENT_ID,
    apiSecretKey: secret,
    scopes: ["read_orders"],
    hostName: "patchbay.example",
    apiVersion: ApiVersion.January26,
    isEmbeddedApp: false,
    logger: { level: LogSeverity.Error, log: async () => {} },
  });
}

/**
 * The query string Shopify appends to the redirect URI after approval,
 * signed as Shopify signs it. The signature is computed here, then checked
 * by @shopify/shopify-api's validateHmac before it is used, so every
 * "genuine" callback in the tests is one Shopify's library accepts.
 */
export async function signedCallback(params: Record<string, string>, secret = SHOPIFY_CLIENT_SECRET): Promise<string> {
  const full: Record<string, string> = { timestamp: String(Math.floor(Date.now() / 1000)), ...params };
  const message = new URLSearchParams(Object.keys(full).sort().map((k) => [k, full[k]!])).toString();
  const hmac = createHmac("sha256", secret).update(message).digest("hex");
  const query = { ...full, hmac };
  if (!(await shopifyLibrary(secret).utils.validateHmac(query))) throw new Error("Shopify's library rejects the test's callback signature");
  return new URLSearchParams(query).toString();
}

/** The state parameter inside an oauth_url. */
export function stateOf(oauthUrl: string): string {
  return new URL(oauthUrl).searchParams.get("state")!;
}

export function shopifyEnv(fake: { url: string }): Record<string, string> {
  return {
    SHOPIFY_CLIENT_ID,
    SHOPIFY_CLIENT_SECRET,
    SHOPIFY_SCOPES: "read_orders,write_fulfillments",
    PATCHBAY_PUBLIC_URL: "https://patchbay.example",
    PATCHBAY_PROVIDER_URL_SHOPIFY: fake.url,
  };
}

/** A tenant whose Shopify connector went through the whole OAuth flow: POST, approval, signed callback. */
export async function connectShopify(t: TestApp, fake: FakeShopify, shop = "acme-store.myshopify.com") {
  const tenant = await createTenant(t);
  const call = asKey(t, tenant);
  const start = await call("POST", "/v1/integrations/shopify", { shop, mode: "live" });
  assert.equal(start.statusCode, 200, start.body);
  const done = await t.request({
    method: "GET",
    url: `/v1/integrations/shopify/oauth/callback?${await signedCallback({ code: fake.issueCode(shop), shop, state: stateOf(start.json().oauth_url) })}`,
  });
  assert.equal(done.statusCode, 200, done.body);
  const row = done.json().data as { id: string; entity_id: string };
  return { tenant, call, row, shop, tokens: fake.issued.at(-1)! };
}
