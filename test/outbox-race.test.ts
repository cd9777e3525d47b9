import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { emitEvent } from "../src/services/outbox.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { asKey, createTenant } from "./helpers/fixtures.ts";

/**
 * An event fanned out while one of its webhook endpoints is being deleted by
 * another transaction (found by the fuzz suite as a 500: the delivery row's
 * foreign key refused an endpoint deleted after the statement's snapshot).
 * PostgreSQL only: the embedded database has one session, nothing interleaves.
 */
describe("[postgres] the outbox and a concurrent endpoint delete", () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp("postgres", { env: { PATCHBAY_WEBHOOK_ALLOW_PRIVATE: "true" } });
  });
  after(async () => t.close());

  it("an event emitted while its endpoint's delete commits skips that endpoint instead of failing", async () => {
    const tenant = await createTenant(t);
    const created = await asKey(t, tenant)("POST", "/v1/webhook_endpoints", { url: "http://127.0.0.1:9/hook", enabled_events: ["*"] });
    assert.equal(created.statusCode, 201, created.body);
    const endpointId = created.json().id as string;

    const deleter = new pg.Client({ connectionString: t.database.url! });
    await deleter.connect();
    try {
      await deleter.query("begin");
      await deleter.query("delete from webhook_endpoints where id = $1", [endpointId]);
      // The event's statement now meets a row whose delete is not yet committed.
      const emitting = t.database.db.transaction().execute((trx) =>
        emitEvent(trx, { entityId: tenant.entityId, type: "connector.updated", data: { id: "c", mode: "live" }, at: t.clock.now() }),
      );
      await new Promise((r) => setTimeout(r, 200));
      await deleter.query("commit");
      const eventId = await emitting;
      const deliveries = await t.database.db.selectFrom("webhook_deliveries").select("id").where("event_id", "=", eventId).execute();
      assert.equal(deliveries.length, 0, "no delivery for the deleted endpoint");
    } finally {
      await deleter.end();
    }
  });
});
