import http from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface FakeReply {
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Wait this long before answering (timeouts). */
  delayMs?: number;
  /** Stream this many bytes of body instead (in 64 KiB chunks, honouring back-pressure). */
  streamBytes?: number;
  /** Declare the whole JSON body's length, send this many bytes of it, then drop the connection. */
  cutAfterBytes?: number;
}

export type FakeHandler = (req: RecordedRequest) => FakeReply | Promise<FakeReply>;

/**
 * A stand-in for a provider's API on 127.0.0.1: routes are `METHOD /path`
 * keys (`*` catches the rest); every request is recorded. Unrouted requests get 404.
 */
export async function startFakeProvider(routes: Record<string, FakeHandler> = {}) {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", async () => {
      const url = new URL(req.url ?? "/", "http://fake");
      const recorded: RecordedRequest = { method: req.method ?? "GET", path: url.pathname, query: url.searchParams, headers: req.headers, body };
      requests.push(recorded);
      const handler = routes[`${recorded.method} ${recorded.path}`] ?? routes["*"];
      const reply: FakeReply = handler ? await handler(recorded) : { status: 404, body: { error: "not found" } };
      if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
      if (res.destroyed) return;
      if (reply.streamBytes !== undefined) {
        res.writeHead(reply.status ?? 200, { "content-type": "application/octet-stream", "content-length": String(reply.streamBytes), ...reply.headers });
        const chunk = Buffer.alloc(64 * 1024, 97);
        let left = reply.streamBytes;
        const pump = () => {
          while (left > 0) {
            const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
            left -= piece.length;
            if (!res.write(piece)) return void res.once("drain", pump);
          }
          res.end();
        };
        pump();
        return;
      }
      if (reply.cutAfterBytes !== undefined) {
        const whole = Buffer.from(JSON.stringify(reply.body ?? {}));
        res.writeHead(reply.status ?? 200, { "content-type": "application/json", "content-length": String(whole.length), ...reply.headers });
        res.write(whole.subarray(0, reply.cutAfterBytes), () => res.destroy());
        return;
      }
      res.writeHead(reply.status ?? 200, { "content-type": "application/json", ...reply.headers });
      res.end(reply.body === undefined ? "" : typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    routes,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export type FakeProvider = Awaited<ReturnType<typeof startFakeProvider>>;

/**
 * Where each provider expects its credentials, as its own API reference
 * says (README, Proxy: the recipe table). Written out here independently of
 * the catalog, so the proxy's recipes are checked, not restated.
 */
export const SAMPLE_CREDENTIALS: Record<string, Record<string, string>> = {
  stripe: { secret_key: "sk_test_pbstripesecret0001", publishable_key: "pk_test_pbstripepub0001" },
  avatax: { account_id: "pbavaaccount0001", license_key: "pbavalicense0001" },
  shippo: { api_token: "shippo_test_pbshippo0001" },
  printnode: { api_key: "pbprintnodekey0001" },
  postmark: { server_token: "pbpostmarktoken0001" },
  shopify: {},
  mapquest: { api_key: "pbmapquestkey0001" },
  google: { api_key: "pbgooglekey0001" },
  openai: { api_key: "sk-pbopenaikey0001", organization_id: "org-pbopenaiorg0001", project_id: "proj_pbopenaiproj0001" },
  plaid: { client_id: "pbplaidclient0001", secret: "pbplaidsecret0001" },
  ups: { account_number: "pbupsacct0001", client_id: "pbupsclient0001", client_secret: "pbupssecret0001" },
  fedex: { account_number: "pbfedexacct0001", client_id: "pbfedexclient0001", client_secret: "pbfedexsecret0001" },
  usps: { client_id: "pbuspsclient0001", client_secret: "pbuspssecret0001" },
  amazon: { lwa_client_id: "amzn1.application-oa2-client.pb0001", lwa_client_secret: "pbamazonsecret0001", refresh_token: "Atzr|pbamazonrefresh0001" },
  ebay: { client_id: "pbebayclient0001", client_secret: "pbebaysecret0001", refresh_token: "v^1.1#pbebayrefresh0001" },
  wwex: { client_id: "pbwwexclient0001", client_secret: "pbwwexsecret0001" },
};

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** Token endpoints of the minting types: path, and how the client authenticates. */
const TOKEN_ENDPOINTS: Record<string, { path: string; check(req: RecordedRequest, c: Record<string, string>): boolean }> = {
  ups: { path: "/security/v1/oauth/token", check: (r, c) => r.headers.authorization === basic(c.client_id!, c.client_secret!) && r.headers["x-merchant-id"] === c.account_number && form(r).get("grant_type") === "client_credentials" },
  fedex: { path: "/oauth/token", check: (r, c) => formHas(r, { grant_type: "client_credentials", client_id: c.client_id!, client_secret: c.client_secret! }) },
  usps: { path: "/oauth2/v3/token", check: (r, c) => formHas(r, { grant_type: "client_credentials", client_id: c.client_id!, client_secret: c.client_secret! }) },
  wwex: { path: "/oauth/token", check: (r, c) => formHas(r, { grant_type: "client_credentials", client_id: c.client_id!, client_secret: c.client_secret! }) },
  amazon: { path: "/auth/o2/token", check: (r, c) => formHas(r, { grant_type: "refresh_token", refresh_token: c.refresh_token!, client_id: c.lwa_client_id!, client_secret: c.lwa_client_secret! }) },
  ebay: { path: "/identity/v1/oauth2/token", check: (r, c) => r.headers.authorization === basic(c.client_id!, c.client_secret!) && formHas(r, { grant_type: "refresh_token", refresh_token: c.refresh_token! }) },
};

function form(r: RecordedRequest): URLSearchParams {
  return new URLSearchParams(r.body);
}
function formHas(r: RecordedRequest, want: Record<string, string>): boolean {
  const f = form(r);
  return Object.entries(want).every(([k, v]) => f.get(k) === v);
}

/** Exactly the places a call to the provider's API must carry the credentials (header names lower-case). */
export function expectedPlacement(type: string, c: Record<string, string>, token: string | null): { headers: Record<string, string>; query: Record<string, string> } {
  switch (type) {
    case "stripe": return { headers: { authorization: `Bearer ${c.secret_key}` }, query: {} };
    case "avatax": return { headers: { authorization: basic(c.account_id!, c.license_key!) }, query: {} };
    case "shippo": return { headers: { authorization: `ShippoToken ${c.api_token}` }, query: {} };
    case "printnode": return { headers: { authorization: basic(c.api_key!, "") }, query: {} };
    case "postmark": return { headers: { "x-postmark-server-token": c.server_token! }, query: {} };
    case "shopify": return { headers: { "x-shopify-access-token": token! }, query: {} };
    case "mapquest": return { headers: {}, query: { key: c.api_key! } };
    case "google": return { headers: {}, query: { key: c.api_key! } };
    case "openai": return { headers: { authorization: `Bearer ${c.api_key}`, "openai-organization": c.organization_id!, "openai-project": c.project_id! }, query: {} };
    case "plaid": return { headers: { "plaid-client-id": c.client_id!, "plaid-secret": c.secret! }, query: {} };
    case "amazon": return { headers: { "x-amz-access-token": token! }, query: {} };
    default: return { headers: { authorization: `Bearer ${token}` }, query: {} }; // ups, fedex, usps, ebay, wwex
  }
}

/**
 * A fake that plays one provider: its token endpoint (for the minting
 * types) issues `tok_<type>_<n>` to the right client credentials only, and
 * every other request answers 200 when it carries exactly the expected
 * credentials, 401 otherwise. `refuseToken` makes the API refuse a token (a
 * provider 401 for a token it revoked).
 */
export async function playProvider(type: string, opts: { shopifyToken?: string; tokenDelayMs?: number } = {}) {
  const c = SAMPLE_CREDENTIALS[type]!;
  let minted = 0;
  const refused = new Set<string>();
  const tokens: string[] = [];
  const token = TOKEN_ENDPOINTS[type];
  const current = () => (type === "shopify" ? opts.shopifyToken ?? null : tokens[tokens.length - 1] ?? null);
  const routes: Record<string, FakeHandler> = {
    "*": (req) => {
      const want = expectedPlacement(type, c, current());
      const ok = Object.entries(want.headers).every(([k, v]) => req.headers[k] === v) && Object.entries(want.query).every(([k, v]) => req.query.get(k) === v);
      const presented = String(req.headers.authorization ?? req.headers["x-amz-access-token"] ?? "");
      if (!ok || [...refused].some((t) => presented.includes(t))) return { status: 401, body: { error: "unauthorized" } };
      return { status: 200, body: { ok: true, type, path: req.path } };
    },
  };
  if (token) {
    routes[`POST ${token.path}`] = async (req) => {
      if (opts.tokenDelayMs) await new Promise((r) => setTimeout(r, opts.tokenDelayMs));
      if (!token.check(req, c)) return { status: 401, body: { error: "invalid_client" } };
      minted++;
      const t = `tok_${type}_${minted}_${Math.random().toString(36).slice(2)}`;
      tokens.push(t);
      return { status: 200, body: { access_token: t, token_type: "Bearer", expires_in: 3600 } };
    };
  }
  const fake = await startFakeProvider(routes);
  return {
    fake,
    credentials: c,
    tokenPath: token?.path ?? null,
    mints: () => minted,
    currentToken: current,
    /** The provider no longer accepts its latest token (a 401 follows). */
    revokeCurrentToken: () => {
      const t = current();
      if (t) refused.add(t);
    },
    apiCalls: () => fake.requests.filter((r) => !(token && r.path === token.path)),
    /** Env that points Patchbay at this fake (Amazon's token host too). */
    env: (): Record<string, string> => ({
      [`PATCHBAY_PROVIDER_URL_${type.toUpperCase()}`]: fake.url,
      ...(type === "amazon" ? { PATCHBAY_PROVIDER_URL_AMAZON_LWA: fake.url } : {}),
    }),
  };
}

export type PlayedProvider = Awaited<ReturnType<typeof playProvider>>;
