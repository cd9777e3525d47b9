import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { asConnectionsKey, createConnection, mintToken } from "./helpers/connections.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { asKey, createTenant } from "./helpers/fixtures.ts";
import { asBasic } from "./helpers/shop-integrations.ts";
import { clockSeconds, createEndpoint, startReceiver, verifyPatchbaySignature, type Receiver } from "./helpers/webhooks.ts";

// Issue 8 end to end: real writes on every surface, through HTTP, reach a
// subscribed receiver as signed events — with no secret in any body — and
// each write leaves its audit entry.

const PLANTED = "sk_live_PLANTED_events_e2e_0123456789abcdef";

for (const kind of DB_KINDS) {
  describe(`[${kind}] writes on every surface become signed webhook events`, () => {
    let t: TestApp;
    let receiver: Receiver;
    before(async () => {
      t = await startTestApp(kind, { env: { PATCHBAY_WEBHOOK_ALLOW_PRIVATE: "true" } });
      receiver = await startReceiver();
    });
    after(async () => {
      await receiver.close();
      await t.close();
    });

    it("connector lifecycle, a shop integration change and a connection disconnect: each event once, signed, secret-free, in the audit log", async () => {
      const tenant = await createTenant(t);
      const v1 = asKey(t, tenant);
      const endpoint = await createEndpoint(t, tenant, { url: receiver.url, events: ["*"] });

      assert.equal((await v1("POST", "/v1/integrations/stripe", { display_name: "Stripe" })).statusCode, 201);
      assert.equal((await v1("PUT", "/v1/integrations/stripe/credentials", { secret_key: PLANTED })).statusCode, 200);
      assert.equal((await v1("PATCH", "/v1/integrations/stripe", { display_name: "Stripe EU" })).statusCode, 200);
      assert.equal((await v1("PATCH", "/v1/integrations/stripe", { display_name: "Stripe EU" })).statusCode, 200, "a no-op PATCH");
      assert.equal((await v1("DELETE", "/v1/integrations/stripe")).statusCode, 200);
      assert.equal((await v1("POST", "/v1/integrations/stripe")).statusCode, 200, "restored within the window");

      assert.equal((await v1("POST", "/v1/integrations/amazon", { seller_id: "S1" })).statusCode, 201);
      const shopId = ((await asBasic(t, tenant)("GET", "/api/v3/integrations")).json().data as { id: number }[])[0]!.id;
      const v3 = await asBasic(t, tenant)("PATCH", `/api/v3/integrations/${shopId}`, { shop_name: "My Webshop", webhook_active: true, webhook_url: receiver.shopUrl });
      assert.equal(v3.statusCode, 204, v3.body);

      const connection = await createConnection(t, tenant);
      const token = await mintToken(t, tenant, connection.connection_id, "access");
      const disconnected = await asConnectionsKey(t, tenant)("PATCH", `/connections/${connection.connection_id}`, { status: "disconnected" }, { token });
      assert.equal(disconnected.statusCode, 200, disconnected.body);

      await t.services.jobs.runDueJobs();

      const hooks = receiver.hooks();
      const events = hooks.map((h) => JSON.parse(h.body) as { id: string; type: string; entity_id: string; data: { object: Record<string, unknown> } });
      const types = events.map((e) => e.type);
      // Delivery order across events is not guaranteed (README): compare as sets with counts.
      const stripeTypes = events.filter((e) => e.data.object.connector_type === "stripe").map((e) => e.type).sort();
      assert.deepEqual(stripeTypes, ["connector.connected", "connector.disconnected", "connector.restored", "connector.updated", "connector.updated"]);
      assert.ok(types.includes("shop_integration.updated"));
      assert.ok(types.includes("connection.disconnected"));
      assert.equal(new Set(hooks.map((h) => JSON.parse(h.body).id)).size, hooks.length, "each event delivered once");
      for (const h of hooks) {
        assert.equal(verifyPatchbaySignature(String(h.headers["arcus-signature"]), h.body, endpoint.secret, clockSeconds(t)), true);
        assert.ok(!h.body.includes(PLANTED), "a credential in a webhook body");
        assert.equal(JSON.parse(h.body).entity_id, tenant.entityId);
      }

      // The shop integration's own URL receives Sendcloud's integration_updated (the v3 webhooks spec), with the new name.
      const shop = receiver.requests.filter((r) => r.path === "/shop").map((r) => JSON.parse(r.body));
      assert.equal(shop.length, 1);
      assert.equal(shop[0].action, "integration_updated");
      assert.equal(shop[0].integration.shop_name, "My Webshop");

      // Every one of those writes is in the audit log, none with the credential.
      const audit = await v1("GET", "/v1/audit_events?limit=100");
      assert.equal(audit.statusCode, 200, audit.body);
      const actions = (audit.json().data as { action: string }[]).map((a) => a.action);
      for (const action of ["connector.created", "connector.credentials_stored", "connector.updated", "connector.disconnected", "connector.restored", "shop_integration.updated", "connection.disconnected"]) {
        assert.ok(actions.includes(action), `no audit entry ${action}: ${actions.join(", ")}`);
      }
      assert.ok(!audit.body.includes(PLANTED));
    });

    it("webhook endpoint writes are audited too: created, updated (only when something changed), secret_rotated, a delivery retried, deleted — never a secret", async () => {
      const tenant = await createTenant(t);
      const v1 = asKey(t, tenant);
      const endpoint = await createEndpoint(t, tenant, { url: receiver.url, events: ["connector.updated"] });
      assert.equal((await v1("PATCH", `/v1/webhook_endpoints/${endpoint.id}`, { events: ["*"] })).statusCode, 200);
      assert.equal((await v1("PATCH", `/v1/webhook_endpoints/${endpoint.id}`, { events: ["*"] })).statusCode, 200, "a no-op PATCH");
      const rotated = await v1("POST", `/v1/webhook_endpoints/${endpoint.id}/rotate_secret`);
      assert.equal(rotated.statusCode, 200, rotated.body);
      assert.equal((await v1("POST", "/v1/integrations/stripe")).statusCode, 201);
      await t.services.jobs.runDueJobs();
      const deliveries = await v1("GET", `/v1/webhook_endpoints/${endpoint.id}/deliveries`);
      const deliveryId = deliveries.json().data[0].id as string;
      assert.equal((await v1("POST", `/v1/webhook_endpoints/${endpoint.id}/deliveries/${deliveryId}/retry`)).statusCode, 202);
      assert.equal((await v1("DELETE", `/v1/webhook_endpoints/${endpoint.id}`)).statusCode, 200);

      const audit = await v1("GET", "/v1/audit_events?target_type=webhook_endpoint&limit=100");
      assert.equal(audit.statusCode, 200, audit.body);
      const entries = (audit.json().data as { action: string; target: { id: string }; actor: { type: string; id: string }; changes: Record<string, { before: unknown; after: unknown }> }[]).reverse();
      assert.deepEqual(entries.map((e) => e.action), ["webhook_endpoint.created", "webhook_endpoint.updated", "webhook_endpoint.secret_rotated", "webhook_endpoint.deleted"]);
      for (const e of entries) {
        assert.equal(e.target.id, endpoint.id);
        assert.deepEqual(e.actor, { type: "api_key", id: tenant.keyId });
      }
      assert.deepEqual(entries[1]!.changes.enabled_events, { before: ["connector.updated"], after: ["*"] });
      const retried = await v1("GET", `/v1/audit_events?target_type=webhook_delivery&target_id=${deliveryId}`);
      assert.deepEqual((retried.json().data as { action: string }[]).map((e) => e.action), ["webhook_delivery.retried"]);

      const { rows } = await sql<{ dump: string }>`select coalesce(string_agg(a::text, ' '), '') as dump from audit_events a where entity_id = ${tenant.entityId}`.execute(t.database.db);
      for (const secret of [endpoint.secret, rotated.json().secret as string]) assert.ok(!rows[0]!.dump.includes(secret), "a signing secret in the audit log");
    });
  });
}
