import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../src/config.ts";
import { createProviderClient } from "../src/providers/client.ts";
import { checkCredentials, CREDENTIAL_CHECKS } from "../src/providers/verify/index.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { startFakeProvider, type FakeProvider, type FakeReply, type RecordedRequest } from "./helpers/fake-provider.ts";
import { asKey, createTenant, SHIP_FROM, type Tenant } from "./helpers/fixtures.ts";
import { bearerSurface, runSecurityBattery } from "./helpers/security-battery.ts";

type Creds = Record<string, string>;

interface ProviderCase {
  type: keyof typeof CREDENTIAL_CHECKS;
  /** PATCHBAY_PROVIDER_URL_<env> */
  env: string;
  route: string;
  /** Extra fields the connector's POST needs. */
  fields?: Record<string, string>;
  good: Creds;
  bad: Creds;
  /** Does the request carry the good credentials, where this provider expects them? */
  accepts(req: RecordedRequest): boolean;
  ok: FakeReply;
  refused: FakeReply;
}

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}`;
const form = (req: RecordedRequest) => new URLSearchParams(req.body);
const oauthOk: FakeReply = { body: { access_token: "provider_access_token_x", token_type: "Bearer", expires_in: 3600 } };

/** One fake per provider, each answering the way that provider does to good and to bad credentials. */
const CASES: ProviderCase[] = [
  {
    type: "stripe", env: "STRIPE", route: "GET /v1/account", good: { secret_key: "sk_test_good" }, bad: { secret_key: "sk_test_bad" },
    accepts: (r) => r.headers.authorization === "Bearer sk_test_good",
    ok: { body: { id: "acct_1", object: "account" } }, refused: { status: 401, body: { error: { type: "invalid_request_error", message: "Invalid API Key provided: sk_test_***bad" } } },
  },
  {
    type: "avatax", env: "AVATAX", route: "GET /api/v2/utilities/ping", good: { account_id: "2000001", license_key: "LICGOOD" }, bad: { account_id: "2000001", license_key: "LICBAD" },
    accepts: (r) => r.headers.authorization === basic("2000001", "LICGOOD"),
    ok: { body: { version: "24.1", authenticated: true, authenticationType: "AccountIdLicenseKey" } }, refused: { body: { version: "24.1", authenticated: false } },
  },
  {
    type: "shippo", env: "SHIPPO", route: "GET /addresses", fields: SHIP_FROM, good: { api_token: "shippo_test_good" }, bad: { api_token: "shippo_test_bad" },
    accepts: (r) => r.headers.authorization === "ShippoToken shippo_test_good" && r.query.get("results") === "1",
    ok: { body: { results: [], next: null } }, refused: { status: 401, body: { detail: "Invalid token." } },
  },
  {
    type: "printnode", env: "PRINTNODE", route: "GET /whoami", good: { api_key: "pn_good" }, bad: { api_key: "pn_bad" },
    accepts: (r) => r.headers.authorization === basic("pn_good", ""),
    ok: { body: { id: 1, email: "ops@example.com" } }, refused: { status: 401, body: { code: "Unauthorized", message: "API Key not found" } },
  },
  {
    type: "postmark", env: "POSTMARK", route: "GET /server", good: { server_token: "pm-good" }, bad: { server_token: "pm-bad" },
    accepts: (r) => r.headers["x-postmark-server-token"] === "pm-good",
    ok: { body: { ID: 1, Name: "Acme" } }, refused: { status: 401, body: { ErrorCode: 10, Message: "The Server Token you provided in the X-Postmark-Server-Token request header was invalid." } },
  },
  {
    type: "mapquest", env: "MAPQUEST", route: "GET /geocoding/v1/address", good: { api_key: "mq_good" }, bad: { api_key: "mq_bad" },
    accepts: (r) => r.query.get("key") === "mq_good" && r.query.get("maxResults") === "1",
    ok: { body: { info: { statuscode: 0 }, results: [] } }, refused: { status: 403, body: "The AppKey submitted with this request is invalid." },
  },
  {
    type: "google", env: "GOOGLE", route: "GET /maps/api/geocode/json", good: { api_key: "AIza_good" }, bad: { api_key: "AIza_bad" },
    accepts: (r) => r.query.get("key") === "AIza_good",
    ok: { body: { status: "OK", results: [{}] } }, refused: { body: { status: "REQUEST_DENIED", error_message: "The provided API key is invalid. AIza_bad", results: [] } },
  },
  {
    type: "openai", env: "OPENAI", route: "GET /v1/models", good: { api_key: "sk-good", organization_id: "org-1" }, bad: { api_key: "sk-bad" },
    accepts: (r) => r.headers.authorization === "Bearer sk-good" && r.headers["openai-organization"] === "org-1",
    ok: { body: { object: "list", data: [] } }, refused: { status: 401, body: { error: { message: "Incorrect API key provided: sk-bad", code: "invalid_api_key" } } },
  },
  {
    type: "plaid", env: "PLAID", route: "POST /institutions/get", fields: { bank_account_id: "3c90c3cc-0d44-4b50-8888-8dd25736052a" },
    good: { client_id: "plaid_client", secret: "plaid_good" }, bad: { client_id: "plaid_client", secret: "plaid_bad" },
    accepts: (r) => {
      const b = JSON.parse(r.body || "{}");
      return b.client_id === "plaid_client" && b.secret === "plaid_good" && b.count === 1;
    },
    ok: { body: { institutions: [], total: 1 } }, refused: { status: 400, body: { error_type: "INVALID_INPUT", error_code: "INVALID_API_KEYS", error_message: "invalid client_id or secret provided" } },
  },
  {
    type: "ups", env: "UPS", route: "POST /security/v1/oauth/token", fields: SHIP_FROM,
    good: { account_number: "A1B2C3", client_id: "ups_id", client_secret: "ups_good" }, bad: { account_number: "A1B2C3", client_id: "ups_id", client_secret: "ups_bad" },
    accepts: (r) => r.headers.authorization === basic("ups_id", "ups_good") && r.headers["x-merchant-id"] === "A1B2C3" && form(r).get("grant_type") === "client_credentials",
    ok: oauthOk, refused: { status: 401, body: { response: { errors: [{ code: "10401", message: "ClientId is Invalid" }] } } },
  },
  {
    type: "fedex", env: "FEDEX", route: "POST /oauth/token", fields: SHIP_FROM,
    good: { account_number: "740561073", client_id: "fx_id", client_secret: "fx_good" }, bad: { account_number: "740561073", client_id: "fx_id", client_secret: "fx_bad" },
    accepts: (r) => form(r).get("client_id") === "fx_id" && form(r).get("client_secret") === "fx_good" && form(r).get("grant_type") === "client_credentials",
    ok: oauthOk, refused: { status: 401, body: { errors: [{ code: "NOT.AUTHORIZED.ERROR", message: "The given client credentials were not valid." }] } },
  },
  {
    type: "usps", env: "USPS", route: "POST /oauth2/v3/token", fields: SHIP_FROM,
    good: { client_id: "usps_id", client_secret: "usps_good" }, bad: { client_id: "usps_id", client_secret: "usps_bad" },
    accepts: (r) => form(r).get("client_id") === "usps_id" && form(r).get("client_secret") === "usps_good",
    ok: oauthOk, refused: { status: 400, body: { error: "invalid_client", error_description: "client authentication failed" } },
  },
  {
    type: "amazon", env: "AMAZON_LWA", route: "POST /auth/o2/token", fields: { seller_id: "A2EUQ1WTGCTBG2" },
    good: { lwa_client_id: "amzn1.application-oa2-client.x", lwa_client_secret: "lwa_good", refresh_token: "Atzr|good" },
    bad: { lwa_client_id: "amzn1.application-oa2-client.x", lwa_client_secret: "lwa_good", refresh_token: "Atzr|revoked" },
    accepts: (r) => form(r).get("refresh_token") === "Atzr|good" && form(r).get("client_secret") === "lwa_good" && form(r).get("grant_type") === "refresh_token",
    ok: oauthOk, refused: { status: 400, body: { error: "invalid_grant", error_description: "The request has an invalid grant parameter : refresh_token" } },
  },
  {
    type: "ebay", env: "EBAY", route: "POST /identity/v1/oauth2/token", fields: { seller_id: "acme-seller" },
    good: { client_id: "ebay_id", client_secret: "ebay_good", refresh_token: "v^1.1#good" }, bad: { client_id: "ebay_id", client_secret: "ebay_bad", refresh_token: "v^1.1#good" },
    accepts: (r) => r.headers.authorization === basic("ebay_id", "ebay_good") && form(r).get("refresh_token") === "v^1.1#good",
    ok: oauthOk, refused: { status: 401, body: { error: "invalid_client", error_description: "client authentication failed" } },
  },
  {
    type: "wwex", env: "WWEX", route: "POST /oauth/token", fields: SHIP_FROM, good: { client_id: "wwex_id", client_secret: "wwex_good" }, bad: { client_id: "wwex_id", client_secret: "wwex_bad" },
    accepts: (r) => form(r).get("client_id") === "wwex_id" && form(r).get("client_secret") === "wwex_good",
    ok: oauthOk, refused: { status: 401, body: { error: "invalid_client" } },
  },
];

describe("every Mode A type has a credential check", () => {
  it("covers the 15 Mode A connector types", () => {
    assert.deepEqual(Object.keys(CREDENTIAL_CHECKS).sort(), CASES.map((c) => c.type).sort());
  });

  it("a provider that cannot be reached is unreachable, not a thrown error", async () => {
    const client = createProviderClient({ config: loadConfig({ PATCHBAY_PROVIDER_URL_STRIPE: "http://127.0.0.1:9" }), logger: { info() {}, warn() {} }, sleep: async () => {} });
    const result = await checkCredentials(client, "stripe", { secret_key: "sk_test_x" }, "live");
    assert.equal(result.status, "unreachable");
    assert.match(result.error!, /stripe could not be reached/);
    assert.ok(!result.error!.includes("sk_test_x"));
  });
});

for (const kind of DB_KINDS) {
  describe(`[${kind}] credential verification records ok / auth_failed / unreachable (POST …/verify)`, () => {
    let t: TestApp;
    const fakes = new Map<string, FakeProvider>();
    /** Per type: "normal" answers like the provider; "down" answers 503. */
    const behaviour = new Map<string, "normal" | "down">();

    before(async () => {
      const env: Record<string, string> = {};
      for (const c of CASES) {
        const fake = await startFakeProvider({
          [c.route]: (req) => (behaviour.get(c.type) === "down" ? { status: 503 } : c.accepts(req) ? c.ok : c.refused),
        });
        fakes.set(c.type, fake);
        env[`PATCHBAY_PROVIDER_URL_${c.env}`] = fake.url;
      }
      t = await startTestApp(kind, {
        env,
        providers: (config, logger) => createProviderClient({ config, logger, sleep: async () => {} }),
      });
    });
    after(async () => {
      await t.close();
      for (const f of fakes.values()) await f.close();
    });

    async function connectorWith(c: ProviderCase, tenant: Tenant, creds: Creds) {
      const call = asKey(t, tenant);
      const res = await call("POST", `/v1/integrations/${c.type}`, { mode: "live", ...c.fields });
      assert.equal(res.statusCode, 201, res.body);
      await storeCredentials(call, c.type, creds);
      return call;
    }

    async function storeCredentials(call: ReturnType<typeof asKey>, type: string, creds: Creds) {
      const res = await call("PUT", `/v1/integrations/${type}/credentials`, creds);
      assert.equal(res.statusCode, 200, res.body);
    }

    const authFailedEvents = async (entityId: string) =>
      (await t.database.db.selectFrom("events").select("type").where("entity_id", "=", entityId).where("type", "=", "connector.auth_failed").execute()).length;

    for (const c of CASES) {
      it(`${c.type}: ${CREDENTIAL_CHECKS[c.type].endpoint} → ok, auth_failed, unreachable`, async () => {
        const tenant = await createTenant(t);
        const call = await connectorWith(c, tenant, c.good);
        const fake = fakes.get(c.type)!;
        const calls = fake.requests.length;

        const ok = await call("POST", `/v1/integrations/${c.type}/verify`);
        assert.equal(ok.statusCode, 200, ok.body);
        assert.equal(fake.requests.length, calls + 1, "one read-only call");
        assert.equal(`${fake.requests.at(-1)!.method} ${fake.requests.at(-1)!.path}`, c.route);
        let row = ok.json().data;
        assert.equal(row.sync_status, "ok");
        assert.equal(row.sync_error, null);
        assert.ok(row.last_sync_at);

        await storeCredentials(call, c.type, c.bad);
        const refused = await call("POST", `/v1/integrations/${c.type}/verify`);
        assert.equal(refused.statusCode, 200, refused.body);
        row = refused.json().data;
        assert.equal(row.sync_status, "auth_failed");
        assert.match(row.sync_error, /refused the credentials/);
        assert.equal(row.is_active, true, "the row is kept");
        assert.equal(await authFailedEvents(tenant.entityId), 1);
        await call("POST", `/v1/integrations/${c.type}/verify`);
        assert.equal(await authFailedEvents(tenant.entityId), 1, "one event per transition, not per check");

        behaviour.set(c.type, "down");
        try {
          const down = await call("POST", `/v1/integrations/${c.type}/verify`);
          row = down.json().data;
          assert.equal(row.sync_status, "unreachable");
          assert.match(row.sync_error, /503/);
        } finally {
          behaviour.delete(c.type);
        }

        const everything = t.responses.join("\n") + t.logs.join("\n") + JSON.stringify(await t.database.db.selectFrom("events").selectAll().execute());
        for (const v of [...Object.values(c.good), ...Object.values(c.bad)].filter((v) => v.length > 8)) {
          assert.ok(!everything.includes(v), `${c.type}: a credential value leaked`);
        }
      });
    }

    it("storing credentials queues their verification (PUT never waits on the provider)", async () => {
      const c = CASES.find((x) => x.type === "postmark")!;
      const call = asKey(t, await createTenant(t));
      await call("POST", "/v1/integrations/postmark", { mode: "live" });
      const put = await call("PUT", "/v1/integrations/postmark/credentials", c.good);
      assert.equal(put.json().data.sync_status, null, "the PUT answers at once");
      await t.services.jobs.runDueJobs();
      const row = (await call("GET", "/v1/integrations/postmark")).json().data;
      assert.equal(row.sync_status, "ok");
      assert.ok(row.last_sync_at);
    });

    it("the health-check job re-checks active connectors older than the interval; none without credentials, paused or disconnected", async () => {
      const tenant = await createTenant(t);
      const call = asKey(t, tenant);
      const stripe = CASES.find((x) => x.type === "stripe")!;
      await connectorWith(stripe, tenant, stripe.good);
      await call("POST", "/v1/integrations/postmark", { mode: "live" });
      const openai = CASES.find((x) => x.type === "openai")!;
      await connectorWith(openai, tenant, { api_key: "sk-paused-connector" });
      await call("PATCH", "/v1/integrations/openai", { is_active: false });
      const pausedCalls = () => fakes.get("openai")!.requests.filter((r) => r.headers.authorization === "Bearer sk-paused-connector").length;
      await t.services.jobs.runDueJobs();
      const first = (await call("GET", "/v1/integrations/stripe")).json().data.last_sync_at;
      assert.ok(first, "checked after the PUT");

      t.clock.advance(30 * 60_000);
      await t.services.jobs.runDueJobs();
      assert.equal((await call("GET", "/v1/integrations/stripe")).json().data.last_sync_at, first, "not due before the interval");

      t.clock.advance(31 * 60_000);
      await t.services.jobs.runDueJobs();
      const after = (await call("GET", "/v1/integrations/stripe")).json().data;
      assert.ok(Date.parse(after.last_sync_at) > Date.parse(first), "re-checked after PATCHBAY_HEALTH_CHECK_MINUTES");
      assert.equal(after.sync_status, "ok");
      assert.equal((await call("GET", "/v1/integrations/postmark")).json().data.sync_status, null, "nothing to check without credentials");
      assert.equal(pausedCalls(), 0, "a paused connector is not checked");
      const due = await t.services.health.dueForCheck(10_000);
      assert.ok(!due.includes((await call("GET", "/v1/integrations/postmark")).json().data.id));
    });

    it("a connector without credentials → 409 no_credentials, row unchanged", async () => {
      const call = asKey(t, await createTenant(t));
      await call("POST", "/v1/integrations/stripe");
      const res = await call("POST", "/v1/integrations/stripe/verify");
      assert.equal(res.statusCode, 409, res.body);
      assert.equal(res.json().code, "no_credentials");
      assert.match(res.json().hint, /PUT \/v1\/integrations\/stripe\/credentials/);
      assert.equal((await call("GET", "/v1/integrations/stripe")).json().data.sync_status, null);
    });

    it("an absent connector → 404; a disconnected one → 409", async () => {
      const call = asKey(t, await createTenant(t));
      assert.equal((await call("POST", "/v1/integrations/stripe/verify")).statusCode, 404);
      await call("POST", "/v1/integrations/stripe");
      await call("DELETE", "/v1/integrations/stripe");
      const res = await call("POST", "/v1/integrations/stripe/verify");
      assert.equal(res.statusCode, 409);
      assert.equal(res.json().code, "connector_disconnected");
    });

    describe("security battery", () => {
      const own = async (tt: TestApp, owner: { key: string }, mode = "sandbox") => {
        const res = await asKey(tt, owner)("POST", "/v1/integrations/stripe", { mode });
        assert.equal(res.statusCode, 201, res.body);
        return { id: res.json().id as string };
      };
      runSecurityBattery("POST /v1/integrations/stripe/verify", () => t, {
        method: "POST",
        scope: "integrations:write",
        url: () => "/v1/integrations/stripe/verify",
        setup: own,
        setupLive: (a, o) => own(a, o, "live"),
        surface: bearerSurface,
      });
    });
  });
}
