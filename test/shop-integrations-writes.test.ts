import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { createTenant } from "./helpers/fixtures.ts";
import { asBasic, connectShop, jsonApiErrors } from "./helpers/shop-integrations.ts";

// SPEC §3 and §2 on the shop-integrations surface: Idempotency-Key and per-key rate limits, in its JSON:API shape.

for (const kind of DB_KINDS) {
  describe(`[${kind}] /api/v3/integrations writes are idempotent and rate-limited`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind, { env: { PATCHBAY_RATE_LIMIT_LIVE_PER_MINUTE: "40", PATCHBAY_RATE_LIMIT_LIVE_BURST: "40" } });
    });
    after(async () => t.close());

    const oneShop = async () => {
      const tenant = await createTenant(t);
      const id = await connectShop(t, tenant, "amazon");
      return { id, call: asBasic(t, tenant) };
    };

    it("a retried PATCH replays the 204 without executing again", async () => {
      const { id, call } = await oneShop();
      const key = { "idempotency-key": randomUUID() };
      const first = await call("PATCH", `/api/v3/integrations/${id}`, { shop_name: "First" }, key);
      assert.equal(first.statusCode, 204);
      await call("PATCH", `/api/v3/integrations/${id}`, { shop_name: "Changed meanwhile" });
      const retry = await call("PATCH", `/api/v3/integrations/${id}`, { shop_name: "First" }, key);
      assert.equal(retry.statusCode, 204);
      assert.equal(retry.body, "");
      assert.equal(retry.headers["idempotent-replayed"], "true");
      assert.equal((await call("GET", `/api/v3/integrations/${id}`)).json().data.shop_name, "Changed meanwhile", "the retry did not run again");
    });

    it("the same key on a different body → 409 idempotency_key_mismatch as a JSON:API error", async () => {
      const { id, call } = await oneShop();
      const key = { "idempotency-key": randomUUID() };
      await call("PATCH", `/api/v3/integrations/${id}`, { shop_name: "A" }, key);
      const res = await call("PATCH", `/api/v3/integrations/${id}`, { shop_name: "B" }, key);
      assert.equal(res.statusCode, 409);
      assert.equal(jsonApiErrors(res.json(), 409)[0]!.code, "idempotency_key_mismatch");
    });

    it("a PATCH refused by validation is not stored: the key stays free", async () => {
      const { id, call } = await oneShop();
      const key = { "idempotency-key": randomUUID() };
      const bad = await call("PATCH", `/api/v3/integrations/${id}`, { shop_name: "" }, key);
      assert.equal(bad.statusCode, 400);
      const good = await call("PATCH", `/api/v3/integrations/${id}`, { shop_name: "Fixed" }, key);
      assert.equal(good.statusCode, 204, "the corrected request executes under the same key");
      assert.equal(good.headers["idempotent-replayed"], undefined);
    });

    it("every answer carries X-RateLimit-*; over the limit → 429 with Retry-After", async () => {
      const { id, call } = await oneShop();
      let last = await call("GET", `/api/v3/integrations/${id}`);
      for (const h of ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"]) assert.match(String(last.headers[h]), /^\d+$/, h);
      for (let i = 0; i < 45 && last.statusCode !== 429; i++) last = await call("GET", `/api/v3/integrations/${id}`);
      assert.equal(last.statusCode, 429);
      assert.equal(jsonApiErrors(last.json(), 429)[0]!.code, "rate_limit_exceeded");
      assert.match(String(last.headers["retry-after"]), /^\d+$/);
    });
  });
}
