import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { asKey, createTenant } from "./helpers/fixtures.ts";
import { asBasic, connectShop } from "./helpers/shop-integrations.ts";
import { asConnectionsKey } from "./helpers/connections.ts";

// Round trips to PostgreSQL per request on the hot paths (BENCHMARKS.md): a
// regression here costs every caller. Counted at the driver, so a new query
// on the path fails this test before it shows in a benchmark.

describe("[postgres] database round trips per request", () => {
  let t: TestApp;
  const seen: string[] = [];
  let counting = false;
  const original = pg.Client.prototype.query;
  before(async () => {
    t = await startTestApp("postgres");
    (pg.Client.prototype as { query: unknown }).query = function (this: pg.Client, ...args: unknown[]) {
      if (counting) seen.push(String(typeof args[0] === "string" ? args[0] : (args[0] as { text?: string })?.text).replace(/\s+/g, " "));
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
  });
  after(async () => {
    pg.Client.prototype.query = original;
    await t.close();
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
});
