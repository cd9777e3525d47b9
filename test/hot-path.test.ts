import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { asKey, createTenant } from "./helpers/fixtures.ts";
import { asBasic, connectShop } from "./helpers/shop-integrations.ts";
import { asConnectionsKey } from "./helpers/connections.ts";
import { startFakeProvider, type FakeProvider } from "./helpers/fake-provider.ts";

// Round trips to PostgreSQL per request on the hot paths (BENCHMARKS.md): a
// regression here costs every caller. Counted at the driver, so a new query
// on the path fails this test before it shows in a benchmark.

describe("[postgres] database round trips per request", () => {
  let t: TestApp;
  let stripe: FakeProvider;
  const seen: string[] = [];
  let counting = false;
  const original = pg.Client.prototype.query;
  before(async () => {
    stripe = await startFakeProvider({ "*": () => ({ status: 200, body: { object: "balance" } }) });
    // The provider-call log's interval out of the way: this test flushes it itself.
    t = await startTestApp("postgres", { env: { PATCHBAY_PROVIDER_URL_STRIPE: stripe.url, PATCHBAY_PROVIDER_LOG_FLUSH_MS: "60000" } });
    (pg.Client.prototype as { query: unknown }).query = function (this: pg.Client, ...args: unknown[]) {
      if (counting) seen.push(String(typeof args[0] === "string" ? args[0] : (args[0] as { text?: string })?.text).replace(/\s+/g, " "));
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
  });
  after(async () => {
    pg.Client.prototype.query = original;
    await t.close();
    await stripe.close();
  });

  async function roundTrips(call: () => Promise<{ statusCode: number; body: string }>, status: number): Promise<string[]> {
    seen.length = 0;
    counting = true;
    const res = await call();
    counting = false;
    assert.equal(res.statusCode, status, res.body);
    return [...seen];
  }

  it("an authenticated GET is two: the key admitted and counted in one statement, then the read", async () => {
    const tenant = await createTenant(t);
    const v1 = asKey(t, tenant);
    assert.equal((await v1("POST", "/v1/integrations/stripe")).statusCode, 201);
    const queries = await roundTrips(() => v1("GET", "/v1/integrations/stripe"), 200);
    assert.equal(queries.length, 2, queries.join("\n"));
    // admit_api_key (migration 0012): the address's failure count read, the key found, rate_limit_take.
    assert.match(queries[0]!, /admit_api_key/);

    const id = await connectShop(t, tenant, "amazon");
    assert.equal((await roundTrips(() => asBasic(t, tenant)("GET", `/api/v3/integrations/${id}`), 200)).length, 2);
    assert.equal((await roundTrips(() => asConnectionsKey(t, tenant)("GET", "/connections?customer_id=c1"), 200)).length, 2);

    // An OAuth2 bearer token on /api/v3 (issue 17, item 10): the token's key is read inside the same admission statement.
    const issued = await t.request({ method: "POST", url: "/oauth2/token", headers: { "content-type": "application/x-www-form-urlencoded" }, payload: `grant_type=client_credentials&client_id=${tenant.publicKey}&client_secret=${tenant.key}` });
    assert.equal(issued.statusCode, 200, issued.body);
    const bearer = await roundTrips(() => t.request({ method: "GET", url: `/api/v3/integrations/${id}`, headers: { authorization: `Bearer ${issued.json().access_token}` } }), 200);
    assert.equal(bearer.length, 2, bearer.join("\n"));
    assert.match(bearer[0]!, /admit_api_key[\s\S]*oauth2_access_tokens/);
  });

  it("a refused key costs one round trip and counts nothing; a wrong Basic user name the same", async () => {
    const tenant = await createTenant(t);
    const unknown = await roundTrips(() => asKey(t, { key: `${tenant.key.slice(0, -4)}AAAA` })("GET", "/v1/integrations/stripe"), 401);
    assert.equal(unknown.length, 1);
    const wrongUser = await roundTrips(() => asBasic(t, { key: tenant.key, publicKey: "pk_live_someone_else" })("GET", "/api/v3/integrations"), 401);
    assert.equal(wrongUser.length, 1);
    const { rows } = await t.database.db.selectFrom("rate_limit_windows").selectAll().where("api_key_id", "=", tenant.keyId).execute().then((r) => ({ rows: r }));
    assert.equal(rows.length, 0, "a refused request was counted against the key");
  });

  it("a PATCH is seven (admit, begin, lock, update, event + fan-out, audit, commit), nine with an Idempotency-Key", async () => {
    const tenant = await createTenant(t);
    const v1 = asKey(t, tenant);
    assert.equal((await v1("POST", "/v1/integrations/stripe")).statusCode, 201);
    assert.equal((await roundTrips(() => v1("PATCH", "/v1/integrations/stripe", { display_name: "A" }), 200)).length, 7);
    assert.equal((await roundTrips(() => v1("PATCH", "/v1/integrations/stripe", { display_name: "B" }, { "idempotency-key": "hot-path-1" }), 200)).length, 9);
  });

  it("a proxied GET is two (admit, the connector with its sealed credentials); the provider-call log is written in batches", async () => {
    const tenant = await createTenant(t, { scopes: ["integrations:read", "integrations:write", "integrations:proxy"] });
    const v1 = asKey(t, tenant);
    assert.equal((await v1("POST", "/v1/integrations/stripe", { mode: "live" })).statusCode, 201);
    assert.equal((await v1("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_live_hot_path" })).statusCode, 200);
    await t.services.callLog.flush();
    // The first call opens the credentials, later ones reuse them while the secret's version is unchanged: two round trips either way.
    const calls: string[][] = [];
    for (let i = 0; i < 5; i++) calls.push(await roundTrips(() => v1("GET", "/v1/integrations/stripe/proxy/v1/balance"), 200));
    for (const queries of calls) {
      assert.equal(queries.length, 2, queries.join("\n"));
      assert.match(queries[0]!, /admit_api_key/);
      assert.match(queries[1]!, /vault_secrets/);
    }
    assert.equal(stripe.requests.filter((r) => r.path === "/v1/balance").length, 5);
    // The five calls' log rows: one INSERT when the buffer is flushed (every 100 ms, or at once here).
    const flushed = await roundTrips(async () => {
      await t.services.callLog.flush();
      return { statusCode: 200, body: "" };
    }, 200);
    assert.equal(flushed.length, 1, flushed.join("\n"));
    assert.match(flushed[0]!, /insert into "provider_calls"/);
    const logged = await v1("GET", "/v1/integrations/stripe/logs");
    assert.equal(logged.json().data.length, 5, logged.body);
  });
});
