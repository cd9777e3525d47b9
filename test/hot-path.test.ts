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
      // The change feed's own connection (src/db/change-feed.ts) LISTENs once, and again after it was lost: not a request's.
      const text = String(typeof args[0] === "string" ? args[0] : (args[0] as { text?: string })?.text).replace(/\s+/g, " ");
      if (counting && text !== "listen patchbay_changes") seen.push(text);
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

  /**
   * The round trips of `call` once the key is admitted from memory (src/services/admission.ts): in a new second
   * (the clock stands still, and a key near its burst limit is granted one request at a time: exact counting),
   * after a few requests, so the key's grant covers more than one; measured again if the machine stalled past
   * the grant's lifetime (real time) and the lease statement came with it.
   */
  async function warmRoundTrips(warm: () => Promise<unknown>, call: () => Promise<{ statusCode: number; body: string }>, status: number): Promise<string[]> {
    let queries: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      t.clock.advance(1000);
      for (let i = 0; i < 3; i++) await warm();
      queries = await roundTrips(call, status);
      if (!queries.some((q) => /admit_api_key_lease/.test(q))) return queries;
    }
    return queries;
  }

  it("an authenticated GET is one, the read, while the key's grant lasts; two (the lease statement, then the read) when it is spent", async () => {
    const tenant = await createTenant(t);
    const v1 = asKey(t, tenant);
    assert.equal((await v1("POST", "/v1/integrations/stripe")).statusCode, 201);
    const get = () => v1("GET", "/v1/integrations/stripe");
    const queries = await warmRoundTrips(get, get, 200);
    assert.equal(queries.length, 1, queries.join("\n"));
    assert.match(queries[0]!, /"connectors"/);

    // A new second (the grant's window) ends the grant: the key is read again and counted in one statement
    // (admit_api_key_lease, migration 0031: the address's failure count read, the key found, the grant taken).
    t.clock.advance(1000);
    const renewed = await roundTrips(get, 200);
    assert.equal(renewed.length, 2, renewed.join("\n"));
    assert.match(renewed[0]!, /admit_api_key_lease/);

    const id = await connectShop(t, tenant, "amazon");
    const v3 = () => asBasic(t, tenant)("GET", `/api/v3/integrations/${id}`);
    const v3Queries = await warmRoundTrips(v3, v3, 200);
    assert.equal(v3Queries.length, 1, v3Queries.join("\n"));
    const connections = () => asConnectionsKey(t, tenant)("GET", "/connections?customer_id=c1");
    const connectionsQueries = await warmRoundTrips(connections, connections, 200);
    assert.equal(connectionsQueries.length, 1, connectionsQueries.join("\n"));
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

  it("a PATCH is six (begin, lock, update, event + fan-out, audit, commit), eight with an Idempotency-Key, while the key's grant lasts", async () => {
    // The refused keys above made 127.0.0.1 an address that failed within the minute: its keys are then admitted by the
    // database on every request (src/ratelimit/auth-throttle.ts, suspect). A minute later it is not.
    t.clock.advance(61_000);
    const tenant = await createTenant(t);
    const v1 = asKey(t, tenant);
    assert.equal((await v1("POST", "/v1/integrations/stripe")).statusCode, 201);
    const warm = () => v1("GET", "/v1/integrations/stripe");
    let n = 0;
    const plain = await warmRoundTrips(warm, () => v1("PATCH", "/v1/integrations/stripe", { display_name: `A${n++}` }), 200);
    assert.equal(plain.length, 6, plain.join("\n"));
    const idempotent = () => v1("PATCH", "/v1/integrations/stripe", { display_name: `B${n}` }, { "idempotency-key": `hot-path-${n++}` });
    assert.equal((await warmRoundTrips(warm, idempotent, 200)).length, 8);
  });

  it("a proxied GET is none while the key's grant and the connector kept in memory last; the provider-call log is written in batches", async () => {
    // The refused keys above made 127.0.0.1 an address that failed within the minute: its keys are then admitted by the
    // database on every request (src/ratelimit/auth-throttle.ts, suspect). A minute later it is not.
    t.clock.advance(61_000);
    const tenant = await createTenant(t, { scopes: ["integrations:read", "integrations:write", "integrations:proxy"] });
    const v1 = asKey(t, tenant);
    assert.equal((await v1("POST", "/v1/integrations/stripe", { mode: "live" })).statusCode, 201);
    assert.equal((await v1("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_live_hot_path" })).statusCode, 200);
    await t.services.callLog.flush();
    const proxied = () => v1("GET", "/v1/integrations/stripe/proxy/v1/balance");
    // The first call reads the connector with its sealed credentials (one query) and opens them; later ones use them from memory.
    const first = await roundTrips(proxied, 200);
    assert.ok(first.some((q) => /vault_secrets/.test(q)), first.join("\n"));
    assert.ok(first.length <= 2, first.join("\n"));
    let calls = 1;
    const counted = async () => {
      calls++;
      return proxied();
    };
    for (let i = 0; i < 5; i++) {
      const queries = await warmRoundTrips(counted, counted, 200);
      assert.equal(queries.length, 0, queries.join("\n"));
    }
    assert.equal(stripe.requests.filter((r) => r.path === "/v1/balance").length, calls);

    // A new second ends the key's grant: the lease statement, and the connector still from memory (its TTL is real time).
    t.clock.advance(1000);
    const renewed = await roundTrips(proxied, 200);
    assert.ok(renewed.length >= 1 && renewed.length <= 2, renewed.join("\n"));
    assert.match(renewed[0]!, /admit_api_key_lease/);

    // The calls' log rows: one INSERT when the buffer is flushed (every 100 ms, or at once here).
    const flushed = await roundTrips(async () => {
      await t.services.callLog.flush();
      return { statusCode: 200, body: "" };
    }, 200);
    assert.equal(flushed.length, 1, flushed.join("\n"));
    assert.match(flushed[0]!, /insert into "provider_calls"/);
    const logged = await v1("GET", "/v1/integrations/stripe/logs?limit=100");
    assert.equal(logged.json().data.length, calls + 1, logged.body);
  });
});
