/**
 * Issue 17, item 10: OAuth2 client credentials on /api/v3, the second security
 * scheme of the Sendcloud v3 integrations spec (OAuth2ClientCreds: flow
 * clientCredentials, scope `api`). The exchange and its errors are RFC 6749's
 * (§4.4, §5.1, §5.2); the token is accepted on /api/v3 beside Basic auth.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { ManualClock } from "./helpers/clock.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { createTenant, type Tenant } from "./helpers/fixtures.ts";
import { basicHeader, connectShop } from "./helpers/shop-integrations.ts";

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { "content-type": "application/x-www-form-urlencoded" };

const backends = [...DB_KINDS.map((kind) => ({ kind, redis: false })), { kind: DB_KINDS[0]!, redis: true }];

for (const { kind, redis } of backends) {
  describe(`[${kind}${redis ? ", Redis rate limits" : ""}] POST /oauth2/token and bearer tokens on /api/v3`, () => {
    let t: TestApp;
    let tenant: Tenant;
    const token = async (who: Pick<Tenant, "publicKey" | "key">, fields: Record<string, string> = { grant_type: "client_credentials" }) =>
      t.request({ method: "POST", url: "/oauth2/token", headers: { ...FORM, authorization: basicHeader(who.publicKey, who.key) }, payload: form(fields) });
    const v3 = (bearer: string, url = "/api/v3/integrations", method: "GET" | "PATCH" = "GET", payload?: unknown) =>
      t.request({ method, url, headers: { authorization: `Bearer ${bearer}` }, payload: payload as never });

    before(async () => {
      const env: Record<string, string> = redis ? { REDIS_URL: "redis://127.0.0.1:6379", PATCHBAY_REDIS_PREFIX: `patchbay-test-${randomBytes(6).toString("hex")}:` } : {};
      t = await startTestApp(kind, { env, clock: new ManualClock("2030-01-01T00:00:00.000Z") });
      tenant = await createTenant(t);
      await connectShop(t, tenant, "amazon");
    });
    after(async () => t.close());

    it("issues a bearer token for the key's public id and secret (HTTP Basic): RFC 6749 §5.1's answer, never cached", async () => {
      const res = await token(tenant, { grant_type: "client_credentials", scope: "api" });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.deepEqual(Object.keys(body).sort(), ["access_token", "expires_in", "scope", "token_type"]);
      assert.match(body.access_token, /^oat_[0-9A-Za-z]{43}$/);
      assert.deepEqual([body.token_type, body.expires_in, body.scope], ["Bearer", 3600, "api"]);
      assert.equal(res.headers["cache-control"], "no-store");
      assert.equal(res.headers.pragma, "no-cache");
      // The token is stored as its hash only.
      const rows = await t.database.db.selectFrom("oauth2_access_tokens").selectAll().execute();
      const hashes = rows.map((r) => Buffer.from(r.token_hash).toString("hex"));
      assert.ok(hashes.includes(createHash("sha256").update(body.access_token).digest("hex")));
      assert.ok(!JSON.stringify(rows).includes(body.access_token));
      assert.ok(!t.logs.join("\n").includes(body.access_token), "the token is in no log line");
    });

    it("the token works on /api/v3 as the key (list, get, patch), and the trailing-slash tokenUrl and body credentials work too", async () => {
      const { access_token } = (await token(tenant)).json();
      const list = await v3(access_token);
      assert.equal(list.statusCode, 200, list.body);
      const basic = await t.request({ method: "GET", url: "/api/v3/integrations", headers: { authorization: basicHeader(tenant.publicKey, tenant.key) } });
      assert.deepEqual(list.json(), basic.json(), "the same answer as with Basic auth");
      assert.ok(list.headers["x-ratelimit-limit"], "the key's rate limit applies");
      const id = list.json().data[0].id;
      assert.equal((await v3(access_token, `/api/v3/integrations/${id}`)).statusCode, 200);
      const patched = await v3(access_token, `/api/v3/integrations/${id}`, "PATCH", { shop_name: "Via OAuth" });
      assert.equal(patched.statusCode, 204, patched.body);
      assert.equal((await v3(access_token, `/api/v3/integrations/${id}`)).json().data.shop_name, "Via OAuth", "the write was made");

      const slash = await t.request({ method: "POST", url: "/oauth2/token/", headers: FORM, payload: form({ grant_type: "client_credentials", client_id: tenant.publicKey, client_secret: tenant.key }) });
      assert.equal(slash.statusCode, 200, slash.body);
      assert.equal((await v3(slash.json().access_token)).statusCode, 200);
      const json = await t.request({ method: "POST", url: "/oauth2/token", payload: { grant_type: "client_credentials", client_id: tenant.publicKey, client_secret: tenant.key } });
      assert.equal(json.statusCode, 200, json.body);
    });

    it("expires after expires_in seconds: 401 on /api/v3 in the JSON:API shape", async () => {
      const { access_token, expires_in } = (await token(tenant)).json();
      t.clock.advance((expires_in - 1) * 1000);
      assert.equal((await v3(access_token)).statusCode, 200, "still valid a second before");
      t.clock.advance(1000);
      const expired = await v3(access_token);
      assert.equal(expired.statusCode, 401);
      const [error] = expired.json().errors;
      assert.deepEqual([error.status, error.code], ["401", "authentication_failed"]);
      assert.equal((await token(tenant)).statusCode, 200, "a new token can be had");
    });

    it("a wrong secret, an unknown client, another key's public id, or no credentials: 401 invalid_client with WWW-Authenticate", async () => {
      const other = await createTenant(t);
      for (const who of [
        { publicKey: tenant.publicKey, key: `ark_live_ent_${"x".repeat(40)}` },
        { publicKey: "pk_live_nobody", key: tenant.key },
        { publicKey: other.publicKey, key: tenant.key },
      ]) {
        const res = await token(who);
        assert.equal(res.statusCode, 401, res.body);
        assert.deepEqual(Object.keys(res.json()), ["error", "error_description"]);
        assert.equal(res.json().error, "invalid_client");
        assert.match(String(res.headers["www-authenticate"]), /^Basic /);
        assert.ok(!res.body.includes(tenant.key), "the secret is not echoed");
      }
      const none = await t.request({ method: "POST", url: "/oauth2/token", headers: FORM, payload: form({ grant_type: "client_credentials" }) });
      assert.deepEqual([none.statusCode, none.json().error], [401, "invalid_client"]);
    });

    it("scope: only api; grant_type: only client_credentials; malformed requests are invalid_request (RFC 6749 §5.2)", async () => {
      const cases: Array<[Record<string, string>, number, string]> = [
        [{ grant_type: "client_credentials", scope: "admin" }, 400, "invalid_scope"],
        [{ grant_type: "client_credentials", scope: "api admin" }, 400, "invalid_scope"],
        [{ grant_type: "password" }, 400, "unsupported_grant_type"],
        [{ scope: "api" }, 400, "invalid_request"],
      ];
      for (const [fields, status, error] of cases) {
        const res = await token(tenant, fields);
        assert.deepEqual([res.statusCode, res.json().error], [status, error], JSON.stringify(fields));
        assert.equal(typeof res.json().error_description, "string");
      }
      const twice = await t.request({ method: "POST", url: "/oauth2/token", headers: { ...FORM, authorization: basicHeader(tenant.publicKey, tenant.key) }, payload: "grant_type=client_credentials&grant_type=client_credentials" });
      assert.deepEqual([twice.statusCode, twice.json().error], [400, "invalid_request"]);
      const both = await t.request({
        method: "POST",
        url: "/oauth2/token",
        headers: { ...FORM, authorization: basicHeader(tenant.publicKey, tenant.key) },
        payload: form({ grant_type: "client_credentials", client_id: tenant.publicKey, client_secret: tenant.key }),
      });
      assert.deepEqual([both.statusCode, both.json().error], [400, "invalid_request"], "one client authentication method at a time");
      const wrongMethod = await t.request({ method: "GET", url: "/oauth2/token" });
      assert.deepEqual([wrongMethod.statusCode, wrongMethod.json().error], [405, "method_not_allowed"]);
    });

    it("the token is for /api/v3 only; a revoked key's tokens stop at once; a garbled token is refused without a lookup", async () => {
      const key = await createTenant(t);
      const { access_token } = (await token(key)).json();
      const onV1 = await t.request({ method: "GET", url: "/v1/integrations", headers: { authorization: `Bearer ${access_token}` } });
      assert.deepEqual([onV1.statusCode, onV1.json().code], [401, "invalid_api_key"], "not an API key on /v1");
      assert.equal((await v3(access_token)).statusCode, 200);
      assert.equal((await t.admin("DELETE", `/admin/v1/api-keys/${key.keyId}`)).statusCode, 200);
      assert.equal((await v3(access_token)).statusCode, 401, "revoked with its key");
      for (const bad of ["oat_short", `${access_token}x`, "ark_live_ent_nope"]) assert.equal((await v3(bad)).statusCode, 401, bad);
    });

    it("a test key's token sees what the test key sees (sandbox only)", async () => {
      const testKey = await createTenant(t, { mode: "test" });
      const { access_token } = (await token(testKey)).json();
      const res = await v3(access_token);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json().data, (await t.request({ method: "GET", url: "/api/v3/integrations", headers: { authorization: basicHeader(testKey.publicKey, testKey.key) } })).json().data);
    });
  });
}
