import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { addKey, asKey, createTenant } from "./helpers/fixtures.ts";
import { asBasic, connectShop } from "./helpers/shop-integrations.ts";
import { asConnectionsKey, mintToken } from "./helpers/connections.ts";
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
    t = await startTestApp("postgres", { env: { PATCHBAY_PROVIDER_URL_STRIPE: stripe.url, PATCHBAY_PROVIDER_LOG_FLUSH_MS: "60000", PATCHBAY_REQUEST_LOG_FLUSH_MS: "60000" } });
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

  // A transaction's BEGIN goes out with its first statement, and the writes nothing reads back (the
  // outbox event with its fan-out, the audit row, the stored idempotency answer) with its COMMIT
  // (src/db/pg-driver.ts, src/db/deferred.ts). What is left, and why each is needed:
  //  1. admission: the key must be known (and counted) before anything else runs;
  //  2. (with a key) BEGIN + idempotency_claim(): the hook must know "execute" or "replay" before the handler runs;
  //  3. the connector row, locked: the new values are merged and validated against it in the service (RFC 7396 config);
  //  4. the UPDATE … RETURNING: its row is the answer (and the event's data and the audit diff);
  //  5. event + fan-out (emit_event(), migration 0033), audit row, (with a key) the stored answer, and the one COMMIT.
  it("a PATCH is four round trips (admit; begin + lock; update; event + audit + commit), five with an Idempotency-Key; one commit either way", async () => {
    const tenant = await createTenant(t);
    const v1 = asKey(t, tenant);
    assert.equal((await v1("POST", "/v1/integrations/stripe")).statusCode, 201);
    const plain = await roundTrips(() => v1("PATCH", "/v1/integrations/stripe", { display_name: "A" }), 200);
    assert.equal(plain.length, 4, plain.join("\n"));
    assert.match(plain[0]!, /admit_api_key/);
    assert.match(plain[1]!, /^begin ; select .* from "connectors" .* for update$/);
    assert.match(plain[2]!, /^update "connectors"/);
    assert.match(plain[3]!, /^select emit_event\(.* ; insert into "audit_events" .* ; commit$/);

    const keyed = await roundTrips(() => v1("PATCH", "/v1/integrations/stripe", { display_name: "B" }, { "idempotency-key": "hot-path-1" }), 200);
    assert.equal(keyed.length, 5, keyed.join("\n"));
    assert.match(keyed[0]!, /admit_api_key/);
    assert.match(keyed[1]!, /^begin ; select \* from idempotency_claim\(/);
    assert.match(keyed[2]!, /for update$/);
    assert.match(keyed[3]!, /^update "connectors"/);
    assert.match(keyed[4]!, /^select emit_event\(.* ; insert into "audit_events" .* ; insert into "idempotency_keys" .* ; commit$/);
    assert.equal(keyed.filter((q) => /\bcommit$/.test(q)).length, 1);

    // The replay: admission and the claim (which finds the answer; its transaction is rolled back).
    const replay = await roundTrips(() => v1("PATCH", "/v1/integrations/stripe", { display_name: "B" }, { "idempotency-key": "hot-path-1" }), 200);
    assert.deepEqual(replay.map((q) => q.replace(/\(.*/, "").trim()), ["select a.*, k.* from admit_api_key", "begin ; select * from idempotency_claim", "rollback"]);
  });

  it("a DELETE is four (admit; the row; begin + update; event + audit + commit), and the POST that restores it four (admit; begin + lock; update; event + audit + commit)", async () => {
    const tenant = await createTenant(t);
    const v1 = asKey(t, tenant);
    assert.equal((await v1("POST", "/v1/integrations/stripe")).statusCode, 201);
    const del = await roundTrips(() => v1("DELETE", "/v1/integrations/stripe"), 200);
    assert.equal(del.length, 4, del.join("\n"));
    // The row is read without a lock first: disconnecting twice answers it unchanged, writing nothing.
    assert.match(del[1]!, /^select \* from "connectors"/);
    assert.match(del[2]!, /^begin ; update "connectors"/);
    assert.match(del[3]!, /^select emit_event\(.* ; insert into "audit_events" .* ; commit$/);
    const restore = await roundTrips(() => v1("POST", "/v1/integrations/stripe"), 200);
    assert.equal(restore.length, 4, restore.join("\n"));
    assert.match(restore[1]!, /^begin ; select .* for update$/);
    assert.match(restore[2]!, /^update "connectors"/);
    assert.match(restore[3]!, /^select emit_event\(.* ; insert into "audit_events" .* ; commit$/);
  });

  it("the /connections and /api/v3 writes take the same path: their event, audit row and stored answer go with the COMMIT", async () => {
    const tenant = await createTenant(t, { scopes: ["integrations:read", "integrations:write", "connections:read", "connections:write"] });
    const c = asConnectionsKey(t, tenant);
    const batchedCommit = (q: string) => /^(select emit_event\(|insert into "audit_events").* ; commit$/.test(q);
    // admit; begin + insert; audit + commit (was 5).
    const created = await roundTrips(() => c("POST", "/connections", { customer_id: "c1", retailer_id: "01J7SC0NN73R6F5VVSP3ZKPDA3" }), 201);
    assert.equal(created.length, 3, created.join("\n"));
    assert.ok(batchedCommit(created[2]!), created[2]);
    const id = JSON.parse((await c("POST", "/connections", { customer_id: "c2", retailer_id: "01J7SC0NN73R6F5VVSP3ZKPDA3" })).body).connection_id;
    const token = await mintToken(t, tenant, id, "access");
    // admit; begin + lock; update; audit + commit (was 6) — with a key: admit; begin + claim; lock; update; audit + answer + commit (was 8).
    const patched = await roundTrips(() => c("PATCH", `/connections/${id}`, { email: "a@example.com" }, { token }), 200);
    assert.equal(patched.length, 4, patched.join("\n"));
    const patchedKeyed = await roundTrips(() => c("PATCH", `/connections/${id}`, { email: "b@example.com" }, { token, headers: { "idempotency-key": "hot-path-c" } }), 200);
    assert.equal(patchedKeyed.length, 5, patchedKeyed.join("\n"));
    assert.match(patchedKeyed[4]!, /insert into "idempotency_keys" .* ; commit$/);
    // admit; begin + lock; its sealed login destroyed; the row deleted; event + audit + commit (was 8).
    const deleted = await roundTrips(() => c("DELETE", `/connections/${id}`, undefined, { token }), 204);
    assert.equal(deleted.length, 5, deleted.join("\n"));
    assert.ok(batchedCommit(deleted[4]!), deleted[4]);

    const shop = await connectShop(t, tenant, "amazon");
    const b = asBasic(t, tenant);
    // admit; begin + lock; update; event + audit + commit (was 7), five with a key (was 9).
    const shopPatched = await roundTrips(() => b("PATCH", `/api/v3/integrations/${shop}`, { shop_name: "X" }), 204);
    assert.equal(shopPatched.length, 4, shopPatched.join("\n"));
    const shopPatchedKeyed = await roundTrips(() => b("PATCH", `/api/v3/integrations/${shop}`, { shop_name: "Y" }, { "idempotency-key": "hot-path-s" }), 204);
    assert.equal(shopPatchedKeyed.length, 5, shopPatchedKeyed.join("\n"));
    assert.match(shopPatchedKeyed[4]!, /insert into "idempotency_keys" .* ; commit$/);
    // admit; the integration (read once: the /v1 disconnect takes the row); begin + update; event + audit + commit (was 8).
    const shopDeleted = await roundTrips(() => b("DELETE", `/api/v3/integrations/${shop}`), 204);
    assert.equal(shopDeleted.length, 4, shopDeleted.join("\n"));
    assert.ok(batchedCommit(shopDeleted[3]!), shopDeleted[3]);
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

  it("the API request log adds nothing per request: a batch of any size is one INSERT and one UPDATE of the keys' last_used_at", async () => {
    const tenant = await createTenant(t);
    const second = await addKey(t, tenant.entityId);
    await t.services.requestLog.flush();
    for (let i = 0; i < 6; i++) {
      const queries = await roundTrips(() => asKey(t, i % 2 ? second : tenant)("GET", "/v1/integrations"), 200);
      assert.equal(queries.length, 2, queries.join("\n"));
    }
    const flushed = await roundTrips(async () => {
      await t.services.requestLog.flush();
      return { statusCode: 200, body: "" };
    }, 200);
    assert.equal(flushed.length, 2, flushed.join("\n"));
    assert.match(flushed[0]!, /insert into request_logs .* unnest/);
    assert.match(flushed[1]!, /update api_keys as k set last_used_at/);
  });
});
