import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { CONNECTOR_TYPES, connectorDefinition } from "../src/catalog/index.ts";
import { refusePath, targetUrl } from "../src/providers/proxy-target.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { playProvider, startFakeProvider, type FakeProvider, type PlayedProvider, type RecordedRequest } from "./helpers/fake-provider.ts";
import { addKey, asKey, createTenant, SHIP_FROM, type Tenant } from "./helpers/fixtures.ts";
import { bearerSurface, runSecurityBattery } from "./helpers/security-battery.ts";

const ROW_FIELD_VALUES: Record<string, string> = { ...SHIP_FROM, seller_id: "A1SELLER0001", bank_account_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b" };

/** Creates the tenant's connector of `type` with its sample credentials (Shopify: a stored grant). */
export async function connectType(t: TestApp, tenant: Tenant, played: PlayedProvider, type: string, opts: { mode?: "live" | "sandbox"; credentials?: boolean } = {}) {
  const call = asKey(t, tenant);
  const def = connectorDefinition(type as never);
  const fields = Object.fromEntries(def.requiredFields.map((f) => [f, ROW_FIELD_VALUES[f]]));
  const mode = opts.mode ?? "live";
  if (type === "shopify") {
    const start = await call("POST", "/v1/integrations/shopify", { shop: "acme-proxy.myshopify.com", mode });
    assert.equal(start.statusCode, 200, start.body);
    const c = await t.database.db.selectFrom("connectors").selectAll().where("entity_id", "=", tenant.entityId).where("connector_type", "=", "shopify").executeTakeFirstOrThrow();
    await t.database.db.transaction().execute((trx) =>
      t.services.shopifyGrants.storeGrant(trx, c, "acme-proxy.myshopify.com", { accessToken: played.currentToken()!, refreshToken: "shprt_proxy_refresh", scope: "read_orders", accessExpiresAt: null, refreshExpiresAt: null }, t.clock.now()),
    );
    // What the OAuth callback does once the merchant approved.
    await t.database.db.updateTable("connectors").set({ is_active: true }).where("id", "=", c.id).execute();
    return;
  }
  const created = await call("POST", `/v1/integrations/${type}`, { mode, ...fields });
  assert.equal(created.statusCode, 201, created.body);
  if (opts.credentials !== false) {
    const stored = await call("PUT", `/v1/integrations/${type}/credentials`, played.credentials);
    assert.equal(stored.statusCode, 200, stored.body);
  }
}

/** A GET whose path is sent byte for byte (node:http does not resolve dot segments, fetch does). */
function rawGet(url: string, key: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const u = new URL(url.replace(/\/v1\/integrations.*/, ""));
  const path = url.slice(u.origin.length);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method: "GET", path, headers: { authorization: `Bearer ${key}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Everything of a request that is not one of the given expected places, as text. */
function elsewhere(req: RecordedRequest, expectedHeaders: Record<string, string>, expectedQuery: Record<string, string>): string {
  const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !(k in expectedHeaders)));
  const query = new URLSearchParams([...req.query].filter(([k]) => !(k in expectedQuery)));
  return JSON.stringify({ method: req.method, path: req.path, query: query.toString(), headers, body: req.body });
}

/** The call log is written once the answer has streamed out: poll for it. */
async function eventually<T>(fn: () => Promise<T | null>, ms = 3_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const kind of DB_KINDS) {
  describe(`[${kind}] the provider proxy`, () => {
    let t: TestApp;
    const played: Record<string, PlayedProvider> = {};
    let stripeSandbox: FakeProvider;

    before(async () => {
      for (const type of CONNECTOR_TYPES) played[type] = await playProvider(type, { shopifyToken: "shpat_pbproxyshopifytoken0001" });
      stripeSandbox = await startFakeProvider({ "*": () => ({ status: 200, body: { sandbox: true } }) });
      const env = Object.assign({}, ...Object.values(played).map((p) => p.env()), {
        PATCHBAY_PROVIDER_URL_STRIPE_SANDBOX: stripeSandbox.url,
        SHOPIFY_CLIENT_ID: "fake_shopify_client_id",
        SHOPIFY_CLIENT_SECRET: "shpss_fake_client_secret_0123456789",
        PATCHBAY_PUBLIC_URL: "https://patchbay.example",
        PATCHBAY_PROXY_TIMEOUT_MS: "2000",
      });
      t = await startTestApp(kind, { env });
    });
    after(async () => {
      await t.close();
      for (const p of Object.values(played)) await p.fake.close();
      await stripeSandbox.close();
    });

    describe("each of the 16 types: the recipe puts the credentials exactly where the provider expects them, and nothing else leaks", () => {
      for (const type of CONNECTOR_TYPES) {
        it(`${type}`, async () => {
          const tenant = await createTenant(t);
          const p = played[type]!;
          await connectType(t, tenant, p, type);
          const before = p.apiCalls().length;
          const { expectedPlacement } = await import("./helpers/fake-provider.ts");
          const want = expectedPlacement(type, p.credentials, p.currentToken() ?? "tok");
          // The caller tries to smuggle its own copy of every place the recipe owns (Authorization is its Patchbay key).
          const smuggledHeaders = Object.fromEntries(Object.keys(want.headers).filter((k) => k !== "authorization").map((k) => [k, "callers-own"]));
          const smuggledQuery = Object.keys(want.query).map((k) => `&${k}=callers-own`).join("");
          const res = await t.request({
            method: "GET",
            url: `/v1/integrations/${type}/proxy/v1/things?limit=2${smuggledQuery}`,
            headers: { authorization: `Bearer ${tenant.key}`, ...smuggledHeaders, "x-custom": "kept" },
          });
          assert.equal(res.statusCode, 200, res.body);
          assert.equal(res.json().ok, true, res.body);
          assert.equal(res.headers["patchbay-proxy-error"], undefined);
          assert.match(String(res.headers["x-request-id"]), /^req_/);
          const calls = p.apiCalls().slice(before);
          assert.equal(calls.length, 1);
          const sent = calls[0]!;
          assert.equal(sent.path, "/v1/things");
          assert.equal(sent.query.get("limit"), "2");
          assert.equal(sent.headers["x-custom"], "kept");
          Object.assign(want, expectedPlacement(type, p.credentials, p.currentToken()));
          for (const [k, v] of Object.entries(want.headers)) assert.equal(sent.headers[k], v, `${type}: header ${k}`);
          for (const [k, v] of Object.entries(want.query)) assert.deepEqual(sent.query.getAll(k), [v], `${type}: query ${k}`);
          const rest = elsewhere(sent, want.headers, want.query);
          for (const value of [...Object.values(p.credentials), tenant.key]) assert.ok(!rest.includes(value), `${type}: a credential or the API key reached the provider outside its place`);
          assert.ok(!rest.includes("callers-own"), `${type}: the caller's copy of a recipe-owned header or parameter was forwarded`);
          // …and nothing secret comes back or is logged.
          const secrets = [...Object.values(p.credentials), p.currentToken()].filter((s): s is string => !!s);
          const logged = await eventually(async () => {
            const rows = await t.database.db.selectFrom("provider_calls").selectAll().where("connector_type", "=", type).execute();
            return rows.some((r) => r.purpose === "proxy" && r.status === 200) ? rows : null;
          });
          for (const s of secrets) {
            assert.ok(!res.body.includes(s) && !JSON.stringify(res.headers).includes(s), `${type}: a secret in the response`);
            assert.ok(!t.logs.join("\n").includes(s), `${type}: a secret in a log line`);
            assert.ok(!JSON.stringify(logged).includes(s), `${type}: a secret in the provider-call log`);
          }
        });
      }
    });

    describe("minted tokens: sealed, reused, minted again once on a provider 401", () => {
      for (const type of ["ups", "fedex", "usps", "wwex", "amazon", "ebay"]) {
        it(`${type}: one mint for many calls; a 401 re-mints once and retries once`, async () => {
          const tenant = await createTenant(t);
          const p = played[type]!;
          await connectType(t, tenant, p, type);
          const call = asKey(t, tenant);
          const mints = p.mints();
          for (let i = 0; i < 3; i++) assert.equal((await call("GET", `/v1/integrations/${type}/proxy/api/ping`)).statusCode, 200);
          assert.equal(p.mints() - mints, 1, "one mint for three calls");

          p.revokeCurrentToken();
          const calls = p.apiCalls().length;
          const retried = await call("GET", `/v1/integrations/${type}/proxy/api/ping`);
          assert.equal(retried.statusCode, 200, retried.body);
          assert.equal(p.mints() - mints, 2, "re-minted once");
          assert.equal(p.apiCalls().length - calls, 2, "the refused call and one retry");

          // The provider refuses the new token too: its 401 comes back, after exactly one re-mint and one retry.
          const refuseAll = p.fake.routes["*"]!;
          p.fake.routes["*"] = () => ({ status: 401, body: { error: "unauthorized" } });
          try {
            const before = { mints: p.mints(), calls: p.apiCalls().length };
            const refused = await call("GET", `/v1/integrations/${type}/proxy/api/ping`);
            assert.equal(refused.statusCode, 401);
            assert.equal(refused.headers["patchbay-proxy-error"], undefined, "the provider's own 401");
            assert.equal(p.mints() - before.mints, 1);
            assert.equal(p.apiCalls().length - before.calls, 2);
          } finally {
            p.fake.routes["*"] = refuseAll;
          }
          const audit = JSON.stringify(await t.database.db.selectFrom("audit_events").selectAll().execute());
          for (const s of Object.values(p.credentials)) assert.ok(!audit.includes(s));
        });
      }

      it("refused client credentials: 502 proxy_token_refused, nothing sent to the API", async () => {
        const tenant = await createTenant(t);
        const p = played.fedex!;
        await connectType(t, tenant, p, "fedex", { credentials: false });
        await asKey(t, tenant)("PUT", "/v1/integrations/fedex/credentials", { ...p.credentials, client_secret: "wrong-secret" });
        const calls = p.apiCalls().length;
        const res = await asKey(t, tenant)("GET", "/v1/integrations/fedex/proxy/rate/v1/rates");
        assert.equal(res.statusCode, 502, res.body);
        assert.equal(res.json().code, "proxy_token_refused");
        assert.equal(res.headers["patchbay-proxy-error"], "true");
        assert.equal(p.apiCalls().length, calls);
      });
    });

    describe("the provider's answer comes back as it was; retries and 429", () => {
      it("a 429 is answered back with its Retry-After, not retried past the cap", async () => {
        const tenant = await createTenant(t);
        await connectType(t, tenant, played.stripe!, "stripe");
        played.stripe!.fake.routes["GET /v1/busy"] = () => ({ status: 429, headers: { "retry-after": "30" }, body: { error: { type: "rate_limit" } } });
        const before = played.stripe!.fake.requests.length;
        const res = await asKey(t, tenant)("GET", "/v1/integrations/stripe/proxy/v1/busy");
        assert.equal(res.statusCode, 429);
        assert.equal(res.headers["retry-after"], "30");
        assert.equal(res.headers["patchbay-proxy-error"], undefined);
        assert.deepEqual(res.json(), { error: { type: "rate_limit" } });
        assert.equal(played.stripe!.fake.requests.length - before, 1);
      });

      it("a POST with Idempotency-Key: the key and body reach Stripe, Patchbay stores nothing, a 503 is retried", async () => {
        const tenant = await createTenant(t);
        await connectType(t, tenant, played.stripe!, "stripe");
        let n = 0;
        played.stripe!.fake.routes["POST /v1/charges"] = (req) => (++n === 1 ? { status: 503, body: {} } : { status: 200, headers: { "x-provider": "stripe", connection: "close, x-secret-hop", "x-secret-hop": "1" }, body: { id: "ch_1", got: req.body, key: req.headers["idempotency-key"] } });
        const res = await t.request({
          method: "POST",
          url: "/v1/integrations/stripe/proxy/v1/charges",
          headers: { authorization: `Bearer ${tenant.key}`, "idempotency-key": "idem-proxy-1", "content-type": "application/x-www-form-urlencoded", "stripe-account": "acct_123" },
          payload: "amount=100&currency=usd",
        });
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual(res.json(), { id: "ch_1", got: "amount=100&currency=usd", key: "idem-proxy-1" });
        assert.equal(res.headers["x-provider"], "stripe");
        assert.equal(res.headers["x-secret-hop"], undefined, "a header the provider's Connection lists is hop-by-hop");
        assert.equal(n, 2, "retried once: the POST carries Stripe's idempotency key");
        assert.equal(played.stripe!.fake.requests.at(-1)!.headers["stripe-account"], "acct_123");
        const stored = await t.database.db.selectFrom("idempotency_keys").selectAll().execute();
        assert.ok(!JSON.stringify(stored).includes("idem-proxy-1"), "the proxy kept the key in Patchbay's store");
      });

      it("a POST without an idempotency key is not retried", async () => {
        const tenant = await createTenant(t);
        await connectType(t, tenant, played.shippo!, "shippo");
        let n = 0;
        played.shippo!.fake.routes["POST /shipments"] = () => (++n, { status: 503, body: { down: true } });
        const res = await t.request({ method: "POST", url: "/v1/integrations/shippo/proxy/shipments", headers: { authorization: `Bearer ${tenant.key}`, "content-type": "application/json" }, payload: { a: 1 } });
        assert.equal(res.statusCode, 503);
        assert.equal(n, 1);
      });

      it("a sandbox connector goes to the sandbox base URL", async () => {
        const tenant = await createTenant(t);
        await connectType(t, tenant, played.stripe!, "stripe", { mode: "sandbox" });
        const before = stripeSandbox.requests.length;
        const res = await asKey(t, tenant)("GET", "/v1/integrations/stripe/proxy/v1/balance");
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual(res.json(), { sandbox: true });
        assert.equal(stripeSandbox.requests.length - before, 1);
      });

      it("a small answer cut short before its declared length: 502 proxy_unreachable in Patchbay's shape, logged aborted", async () => {
        const tenant = await createTenant(t);
        await connectType(t, tenant, played.shippo!, "shippo");
        played.shippo!.fake.routes["GET /rates"] = () => ({ status: 200, body: { rates: ["a".repeat(500)] }, cutAfterBytes: 40 });
        const res = await asKey(t, tenant)("GET", "/v1/integrations/shippo/proxy/rates");
        assert.equal(res.statusCode, 502, res.body);
        assert.equal(res.json().code, "proxy_unreachable");
        assert.equal(res.headers["patchbay-proxy-error"], "true");
        const logged = await eventually(async () => (await asKey(t, tenant)("GET", "/v1/integrations/shippo/logs")).json().data[0] ?? null);
        assert.equal(logged.error_class, "aborted");
        assert.equal(logged.status, 200);
        // A whole small answer is relayed with its length; HEAD declares a length it does not carry.
        const rates = JSON.stringify({ rates: ["a".repeat(500)] });
        played.shippo!.fake.routes["GET /rates"] = () => ({ status: 200, headers: { "content-length": String(rates.length) }, body: rates });
        const whole = await asKey(t, tenant)("GET", "/v1/integrations/shippo/proxy/rates");
        assert.equal(whole.statusCode, 200);
        assert.equal(whole.headers["content-length"], String(rates.length));
        assert.deepEqual(whole.json(), { rates: ["a".repeat(500)] });
        const head = await t.request({ method: "HEAD", url: "/v1/integrations/shippo/proxy/rates", headers: { authorization: `Bearer ${tenant.key}` } });
        assert.equal(head.statusCode, 200);
        assert.equal(head.rawPayload.length, 0);
      });

      it("a provider that does not answer in time: 504 proxy_timeout", async () => {
        const tenant = await createTenant(t);
        await connectType(t, tenant, played.postmark!, "postmark");
        played.postmark!.fake.routes["POST /email"] = () => ({ status: 200, delayMs: 3_000, body: {} });
        const res = await t.request({ method: "POST", url: "/v1/integrations/postmark/proxy/email", headers: { authorization: `Bearer ${tenant.key}`, "content-type": "application/json" }, payload: { To: "a@b.c" } });
        assert.equal(res.statusCode, 504, res.body);
        assert.equal(res.json().code, "proxy_timeout");
        assert.equal(res.headers["patchbay-proxy-error"], "true");
      });
    });

    describe("refusals: nothing is sent to the provider", () => {
      const nothingSent = async (p: FakeProvider, fn: () => Promise<void>) => {
        const before = p.requests.length;
        await fn();
        assert.equal(p.requests.length, before, "a request reached the provider");
      };

      it("paused → 409 proxy_connector_paused; disconnected → 409 proxy_connector_disconnected; no credentials → 409 proxy_no_credentials", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        await connectType(t, tenant, played.postmark!, "postmark", { credentials: false });
        await nothingSent(played.postmark!.fake, async () => {
          const none = await call("GET", "/v1/integrations/postmark/proxy/server");
          assert.equal(none.statusCode, 409);
          assert.equal(none.json().code, "proxy_no_credentials");
          await call("PUT", "/v1/integrations/postmark/credentials", played.postmark!.credentials);
          await call("PATCH", "/v1/integrations/postmark", { is_active: false }, { "idempotency-key": "pause-1" });
          const paused = await call("GET", "/v1/integrations/postmark/proxy/server");
          assert.equal(paused.statusCode, 409);
          assert.equal(paused.json().code, "proxy_connector_paused");
          assert.equal(paused.headers["patchbay-proxy-error"], "true");
          assert.match(paused.json().hint, /is_active/);
          await call("PATCH", "/v1/integrations/postmark", { is_active: true }, { "idempotency-key": "resume-1" });
          await call("DELETE", "/v1/integrations/postmark", undefined, { "idempotency-key": "del-1" });
          const gone = await call("GET", "/v1/integrations/postmark/proxy/server");
          assert.equal(gone.statusCode, 409);
          assert.equal(gone.json().code, "proxy_connector_disconnected");
        });
      });

      it("a test key reaches sandbox connectors only; another entity's connector is not found", async () => {
        const tenant = await createTenant(t);
        await connectType(t, tenant, played.openai!, "openai");
        const testKey = await addKey(t, tenant.entityId, { mode: "test" });
        await nothingSent(played.openai!.fake, async () => {
          const live = await asKey(t, testKey)("GET", "/v1/integrations/openai/proxy/v1/models");
          assert.equal(live.statusCode, 403);
          assert.equal(live.json().code, "live_mode_forbidden");
          assert.equal(live.headers["patchbay-proxy-error"], "true");
          const stranger = await createTenant(t);
          const other = await asKey(t, stranger)("GET", "/v1/integrations/openai/proxy/v1/models");
          assert.equal(other.statusCode, 404);
          assert.equal(other.json().code, "proxy_connector_not_found");
        });
        const sandboxTenant = await createTenant(t);
        await connectType(t, sandboxTenant, played.stripe!, "stripe", { mode: "sandbox" });
        const sandboxKey = await addKey(t, sandboxTenant.entityId, { mode: "test" });
        assert.equal((await asKey(t, sandboxKey)("GET", "/v1/integrations/stripe/proxy/v1/balance")).statusCode, 200);
      });

      it("path tricks are refused before anything is sent", async () => {
        const tenant = await createTenant(t);
        await connectType(t, tenant, played.stripe!, "stripe");
        const tricks = [
          "/v1/../../admin/v1/entities",
          "/..%2f..%2fadmin",
          "/%2e%2e/admin",
          "/v1%2fcharges",
          "//evil.example/steal",
          "/http://evil.example/steal",
          "/v1@evil.example/x",
          "/v1%40evil.example/x",
          "/v1%5cevil",
          "/v1/%00",
        ];
        // HTTP injection resolves dot segments before the route sees them (as it does backslashes): these go over a socket.
        const overSocket = ["/./v1/charges", "/v1/./charges", "/v1/charges/.."];
        await nothingSent(played.stripe!.fake, async () => {
          for (const trick of tricks) {
            const res = await t.request({ method: "GET", url: `/v1/integrations/stripe/proxy${trick}`, headers: { authorization: `Bearer ${tenant.key}` } });
            assert.ok(res.statusCode === 400 || res.statusCode === 404, `${trick}: ${res.statusCode} ${res.body}`);
            if (res.statusCode === 400) {
              assert.equal(res.json().code, "proxy_path_refused", trick);
              assert.equal(res.headers["patchbay-proxy-error"], "true");
            }
          }
          const address = await t.app.listen({ port: 0, host: "127.0.0.1" });
          for (const trick of overSocket) {
            const res = await rawGet(`${address}/v1/integrations/stripe/proxy${trick}`, tenant.key);
            assert.equal(res.status, 400, `${trick}: ${res.status} ${res.body}`);
            assert.equal(JSON.parse(res.body).code, "proxy_path_refused", trick);
            assert.equal(res.headers["patchbay-proxy-error"], "true");
          }
        });
      });

      it("targetUrl joins a plain path and query as text, byte for byte what the URL parser gives", () => {
        const cases: [string, string, string][] = [
          ["https://api.stripe.com", "/v1/charges", ""],
          ["https://api.stripe.com/", "", "limit=3"],
          ["https://wwwcie.ups.com/api", "/rating/v2409/Shop", "additionalinfo=timeintransit&x=%20a+b"],
          ["http://127.0.0.1:4010/base/", "/a.b/c_d-e/", "a=1&b=2&c=x:y@z/w?v,(1)*;!$~"],
          ["https://api.shippo.com", "/shipments/", "q=%E2%82%AC"],
        ];
        for (const [base, path, query] of cases) {
          const b = new URL(base);
          const parsed = new URL(`${b.origin}${b.pathname.replace(/\/+$/, "")}${path || "/"}${query ? `?${query}` : ""}`);
          assert.deepEqual(targetUrl(base, path, query), { origin: parsed.origin, path: parsed.pathname + parsed.search }, `${base} ${path} ${query}`);
        }
        // What the parser would change goes through it: a quote in the query is percent-encoded, as before.
        assert.deepEqual(targetUrl("https://api.stripe.com", "/v1/x", "a='b'"), { origin: "https://api.stripe.com", path: "/v1/x?a=%27b%27" });
      });

      it("refusePath refuses a raw backslash too (HTTP injection normalises it to / before the route sees it)", () => {
        assert.match(refusePath("/v1\\evil") ?? "", /Backslash/);
        assert.match(refusePath("/v1/..") ?? "", /Dot segments/);
        assert.match(refusePath("/./v1/charges") ?? "", /Dot segments/);
        assert.equal(refusePath("/v1/charges/ch_1"), null);
        assert.equal(refusePath("/maps/api/geocode/json"), null);
      });

      it("a request body over the limit: 413 proxy_body_too_large", async () => {
        const tenant = await createTenant(t);
        await connectType(t, tenant, played.openai!, "openai");
        const big = "x".repeat(t.config.proxy.maxRequestBytes + 1);
        await nothingSent(played.openai!.fake, async () => {
          const res = await t.request({ method: "POST", url: "/v1/integrations/openai/proxy/v1/files", headers: { authorization: `Bearer ${tenant.key}`, "content-type": "text/plain" }, payload: big });
          assert.equal(res.statusCode, 413, res.body.slice(0, 200));
          assert.equal(res.json().code, "proxy_body_too_large");
        });
      });
    });

    describe("the provider-call log: GET /v1/integrations/{type}/logs", () => {
      it("lists the connector's calls newest first, secret query values redacted, filtered and paginated", async () => {
        const tenant = await createTenant(t);
        await connectType(t, tenant, played.google!, "google");
        const call = asKey(t, tenant);
        played.google!.fake.routes["GET /maps/api/missing"] = () => ({ status: 404, body: {} });
        await call("GET", "/v1/integrations/google/proxy/maps/api/geocode/json?address=Denver&signature=abc123");
        await call("GET", "/v1/integrations/google/proxy/maps/api/missing?x=1");
        await eventually(async () => ((await call("GET", "/v1/integrations/google/logs")).json().data.length === 2 ? true : null));
        const page = await call("GET", "/v1/integrations/google/logs");
        assert.equal(page.statusCode, 200, page.body);
        const body = page.json();
        assert.equal(body.object, "list");
        assert.equal(body.url, "/v1/integrations/google/logs");
        assert.equal(body.data.length, 2);
        const [missing, geocode] = body.data;
        assert.equal(missing.status, 404);
        assert.equal(geocode.status, 200);
        assert.equal(geocode.purpose, "proxy");
        assert.equal(geocode.method, "GET");
        assert.match(geocode.path, /^\/maps\/api\/geocode\/json\?/);
        assert.ok(geocode.path.includes("address=Denver"));
        assert.ok(geocode.path.includes("key=[redacted]") && geocode.path.includes("signature=[redacted]"), geocode.path);
        assert.ok(!JSON.stringify(body).includes(played.google!.credentials.api_key!));
        assert.ok(geocode.bytes_received > 0);
        assert.equal(typeof geocode.latency_ms, "number");
        assert.match(geocode.request_id, /^req_/);

        const fours = (await call("GET", "/v1/integrations/google/logs?status_class=4xx")).json();
        assert.deepEqual(fours.data.map((d: { status: number }) => d.status), [404]);
        const first = (await call("GET", "/v1/integrations/google/logs?limit=1")).json();
        assert.equal(first.has_more, true);
        const second = (await call("GET", `/v1/integrations/google/logs?limit=1&starting_after=${first.data[0].id}`)).json();
        assert.equal(second.data[0].id, geocode.id);
        assert.equal(second.has_more, false);
        const future = (await call("GET", `/v1/integrations/google/logs?since=${new Date(t.clock.now().getTime() + 60_000).toISOString()}`)).json();
        assert.equal(future.data.length, 0);
        const bad = await call("GET", "/v1/integrations/google/logs?status_class=6xx");
        assert.equal(bad.statusCode, 400);
      });

      it("verification and token minting are logged too; entries past the retention are purged", async () => {
        const tenant = await createTenant(t);
        await connectType(t, tenant, played.usps!, "usps");
        const call = asKey(t, tenant);
        await call("POST", "/v1/integrations/usps/verify", undefined, { "idempotency-key": `v-${Date.now()}` });
        await call("GET", "/v1/integrations/usps/proxy/addresses/v3/address");
        const purposes = await eventually(async () => {
          const p = (await call("GET", "/v1/integrations/usps/logs")).json().data.map((d: { purpose: string }) => d.purpose);
          return p.length === 3 ? p : null;
        });
        assert.deepEqual(purposes.sort(), ["proxy", "token_mint", "verify"]);
        t.clock.advance((t.config.providerLogRetentionDays + 1) * 86_400_000);
        await t.services.callLog.purgeOlderThan(t.config.providerLogRetentionDays * 86_400_000);
        assert.equal((await call("GET", "/v1/integrations/usps/logs")).json().data.length, 0);
      });
    });

    describe("security battery", () => {
      const setup = async (tt: TestApp, owner: Tenant) => {
        await connectType(tt, owner, played.stripe!, "stripe", { mode: "live" });
        return {};
      };
      runSecurityBattery("GET …/proxy/*", () => t, { method: "GET", url: () => "/v1/integrations/stripe/proxy/v1/balance", scope: "integrations:proxy", setup, setupLive: setup, surface: bearerSurface });
      runSecurityBattery("POST …/proxy/*", () => t, { method: "POST", url: () => "/v1/integrations/stripe/proxy/v1/charges", payload: { amount: 1 }, scope: "integrations:proxy", setup, setupLive: setup, surface: bearerSurface });
      runSecurityBattery("GET …/logs", () => t, { method: "GET", url: () => "/v1/integrations/stripe/logs", scope: "integrations:read", setup, setupLive: setup, surface: bearerSurface });
    });
  });
}
