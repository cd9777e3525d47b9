import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { LightMyRequestResponse } from "fastify";
import { sql } from "kysely";
import { createCredentialService } from "../src/services/credentials.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { asConnectionsKey } from "./helpers/connections.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { startFakeProvider, type FakeProvider } from "./helpers/fake-provider.ts";
import { asKey, createTenant, type Tenant } from "./helpers/fixtures.ts";
import { asBasic, connectShop } from "./helpers/shop-integrations.ts";

type Changes = Record<string, { before: unknown; after: unknown }>;

for (const kind of DB_KINDS) {
  describe(`[${kind}] the audit log and the outbox record every write, in its transaction`, () => {
    let t: TestApp;
    let stripe: FakeProvider;
    before(async () => {
      // Stripe accepts one secret key and refuses every other (for the health-check transitions).
      stripe = await startFakeProvider({
        "GET /v1/account": (req) => (req.headers.authorization === "Bearer sk_test_good" ? { body: { id: "acct_1" } } : { status: 401, body: { error: { message: "Invalid API Key" } } }),
      });
      t = await startTestApp(kind, { env: { PATCHBAY_PROVIDER_URL_STRIPE: stripe.url } });
    });
    after(async () => {
      await t.close();
      await stripe.close();
    });

    /** The audit rows a request wrote: found by its request id, so no other write can be mistaken for it. */
    const auditOf = (res: LightMyRequestResponse) =>
      t.database.db.selectFrom("audit_events").selectAll().where("request_id", "=", String(res.headers["x-request-id"])).execute();

    /** Exactly one audit row for this request, with this actor, action and target; answers its changes. */
    async function oneAudit(res: LightMyRequestResponse, expected: { actor: Tenant | "admin"; action: string; target: { type: string; id: string }; entityId: string }): Promise<Changes> {
      assert.ok(res.statusCode < 300, res.body);
      const rows = await auditOf(res);
      assert.equal(rows.length, 1, `${expected.action}: ${JSON.stringify(rows)}`);
      const a = rows[0]!;
      assert.equal(a.action, expected.action);
      assert.deepEqual({ type: a.target_type, id: a.target_id }, expected.target);
      assert.equal(a.entity_id, expected.entityId);
      if (expected.actor === "admin") assert.deepEqual([a.actor_type, a.actor_id], ["admin", null]);
      else assert.deepEqual([a.actor_type, a.actor_id], ["api_key", expected.actor.keyId]);
      return a.changes as Changes;
    }

    const eventTypes = async (entityId: string) =>
      (await t.database.db.selectFrom("events").select("type").where("entity_id", "=", entityId).orderBy("id").execute()).map((e) => e.type);
    const auditCount = async (entityId: string) =>
      Number((await t.database.db.selectFrom("audit_events").select((eb) => eb.fn.countAll().as("n")).where("entity_id", "=", entityId).executeTakeFirstOrThrow()).n);

    describe("/v1/integrations writes", () => {
      it("POST, PATCH, pause/resume, DELETE and re-POST: one audit row each and connector.* events", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const created = await call("POST", "/v1/integrations/stripe", { config: { currency: "usd" } });
        const id = created.json().id as string;
        const target = { type: "connector", id };
        const base = { actor: tenant, target, entityId: tenant.entityId };
        const onCreate = await oneAudit(created, { ...base, action: "connector.created" });
        assert.deepEqual(onCreate.connector_type, { before: null, after: "stripe" });
        assert.deepEqual(onCreate.config, { before: null, after: { currency: "usd" } });
        assert.equal(onCreate.ship_from_name, undefined, "a create lists only the fields it set");

        const patched = await call("PATCH", "/v1/integrations/stripe", { display_name: "Payments", config: { currency: null, capture_method: "manual" } });
        assert.deepEqual(await oneAudit(patched, { ...base, action: "connector.updated" }), {
          display_name: { before: "Stripe", after: "Payments" },
          config: { before: { currency: "usd" }, after: { capture_method: "manual" } },
        });
        const writes = await auditCount(tenant.entityId);
        const noop = await call("PATCH", "/v1/integrations/stripe", { display_name: "Payments" });
        assert.equal(noop.statusCode, 200);
        assert.equal((await auditOf(noop)).length, 0, "a PATCH that changes nothing is not audited");
        assert.equal(await auditCount(tenant.entityId), writes);

        const paused = await call("PATCH", "/v1/integrations/stripe", { is_active: false });
        assert.deepEqual(await oneAudit(paused, { ...base, action: "connector.updated" }), { is_active: { before: true, after: false } });
        await oneAudit(await call("PATCH", "/v1/integrations/stripe", { is_active: true }), { ...base, action: "connector.updated" });

        const deleted = await call("DELETE", "/v1/integrations/stripe");
        const onDelete = await oneAudit(deleted, { ...base, action: "connector.disconnected" });
        assert.deepEqual(Object.keys(onDelete).sort(), ["disconnected_at", "is_active"]);
        assert.equal((await auditOf(await call("DELETE", "/v1/integrations/stripe"))).length, 0, "disconnecting twice changes nothing");

        const restored = await call("POST", "/v1/integrations/stripe");
        assert.equal(restored.statusCode, 200, restored.body);
        assert.deepEqual((await oneAudit(restored, { ...base, action: "connector.restored" })).disconnected_at?.after, null);

        assert.deepEqual(await eventTypes(tenant.entityId), [
          "connector.connected",
          "connector.updated",
          "connector.updated",
          "connector.connected", // resuming a paused connector connects it again
          "connector.disconnected",
          "connector.restored",
        ]);
        const data = (await t.database.db.selectFrom("events").select("data").where("entity_id", "=", tenant.entityId).orderBy("id").execute()).map((e) => e.data);
        assert.equal(data[1]!.display_name, "Payments", "the event carries the row after the change");
        assert.equal(data[0]!.id, id);
      });

      it("credentials and webhook secret: key names and has_* flags only; connector.updated events", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const id = (await call("POST", "/v1/integrations/stripe")).json().id as string;
        const base = { actor: tenant, target: { type: "connector", id }, entityId: tenant.entityId };
        const put = await call("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_test_abcdefgh12345678", publishable_key: "pk_test_abcdefgh" });
        assert.deepEqual(await oneAudit(put, { ...base, action: "connector.credentials_stored" }), {
          has_credentials_secret_arn: { before: false, after: true },
          credentials_masked: { before: [], after: ["publishable_key", "secret_key"] },
        });
        const replaced = await call("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_test_other_value_123" });
        assert.deepEqual(await oneAudit(replaced, { ...base, action: "connector.credentials_stored" }), {
          credentials_masked: { before: ["publishable_key", "secret_key"], after: ["secret_key"] },
        });
        const gone = await call("DELETE", "/v1/integrations/stripe/credentials");
        assert.deepEqual(await oneAudit(gone, { ...base, action: "connector.credentials_deleted" }), {
          has_credentials_secret_arn: { before: true, after: false },
          credentials_masked: { before: ["secret_key"], after: [] },
        });
        assert.equal((await auditOf(await call("DELETE", "/v1/integrations/stripe/credentials"))).length, 0, "nothing to delete, nothing audited");

        const secret = await call("PUT", "/v1/integrations/stripe/webhook-secret", { webhook_secret: "whsec_abcdefgh12345678" });
        assert.deepEqual(await oneAudit(secret, { ...base, action: "connector.webhook_secret_stored" }), { has_webhook_secret: { before: false, after: true } });
        const secretGone = await call("DELETE", "/v1/integrations/stripe/webhook-secret");
        assert.deepEqual(await oneAudit(secretGone, { ...base, action: "connector.webhook_secret_deleted" }), { has_webhook_secret: { before: true, after: false } });

        assert.deepEqual(await eventTypes(tenant.entityId), ["connector.connected", ...Array(5).fill("connector.updated")]);
      });

      it("a health check audits a status transition (auth_failed once, with its event); the periodic check acts as system", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const id = (await call("POST", "/v1/integrations/stripe")).json().id as string;
        await call("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_test_rejected" });
        const refused = await call("POST", "/v1/integrations/stripe/verify");
        assert.equal(refused.json().data.sync_status, "auth_failed");
        const changes = await oneAudit(refused, { actor: tenant, action: "connector.auth_failed", target: { type: "connector", id }, entityId: tenant.entityId });
        assert.deepEqual(changes.sync_status, { before: null, after: "auth_failed" });
        const again = await call("POST", "/v1/integrations/stripe/verify");
        assert.equal((await auditOf(again)).length, 0, "no transition, no entry");

        await call("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_test_good" });
        await t.services.health.checkConnector(id);
        const last = await t.database.db.selectFrom("audit_events").selectAll().where("target_id", "=", id).orderBy("id", "desc").executeTakeFirstOrThrow();
        assert.equal(last.action, "connector.health_changed");
        assert.deepEqual([last.actor_type, last.actor_id, last.request_id], ["system", "job:health-checks", null]);
        assert.deepEqual((last.changes as Changes).sync_status, { before: "auth_failed", after: "ok" });
        assert.deepEqual(
          (await eventTypes(tenant.entityId)).filter((e) => e === "connector.auth_failed"),
          ["connector.auth_failed"],
        );
      });

      it("the purge job records connector.purged as system", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const id = (await call("POST", "/v1/integrations/postmark")).json().id as string;
        await call("DELETE", "/v1/integrations/postmark");
        t.clock.advanceDays(8);
        while ((await t.services.connectors.purgeExpiredConnectors()) > 0);
        const rows = await t.database.db.selectFrom("audit_events").selectAll().where("target_id", "=", id).where("action", "=", "connector.purged").execute();
        assert.equal(rows.length, 1);
        assert.deepEqual([rows[0]!.actor_type, rows[0]!.actor_id, rows[0]!.entity_id], ["system", "job:purge", tenant.entityId]);
      });
    });

    describe("/api/v3/integrations writes", () => {
      it("PATCH: one shop_integration.updated entry (target: the integer id) and event; a no-op PATCH neither", async () => {
        const tenant = await createTenant(t);
        const integrationId = await connectShop(t, tenant, "amazon");
        const v3 = asBasic(t, tenant);
        const patched = await v3("PATCH", `/api/v3/integrations/${integrationId}`, { shop_name: "Amazon EU", feedback_type: "delayed" });
        assert.equal(patched.statusCode, 204, patched.body);
        const changes = await oneAudit(patched, { actor: tenant, action: "shop_integration.updated", target: { type: "shop_integration", id: String(integrationId) }, entityId: tenant.entityId });
        assert.deepEqual(changes.shop_name, { before: "Amazon Seller Central", after: "Amazon EU" });
        assert.equal((changes.feedback_type as { after: unknown }).after, "delayed");
        const noop = await v3("PATCH", `/api/v3/integrations/${integrationId}`, { shop_name: "Amazon EU" });
        assert.equal(noop.statusCode, 204);
        assert.equal((await auditOf(noop)).length, 0);
        assert.deepEqual(await eventTypes(tenant.entityId), ["connector.connected", "shop_integration.updated"]);
        const event = await t.database.db.selectFrom("events").select("data").where("type", "=", "shop_integration.updated").where("entity_id", "=", tenant.entityId).executeTakeFirstOrThrow();
        assert.equal(event.data.id, integrationId);
        assert.equal(event.data.shop_name, "Amazon EU");

        const deleted = await v3("DELETE", `/api/v3/integrations/${integrationId}`);
        assert.equal(deleted.statusCode, 204);
        const [row] = await auditOf(deleted);
        assert.equal(row!.action, "connector.disconnected", "the connector's own disconnect");
      });
    });

    describe("/connections writes (already audited) and the admin API", () => {
      it("POST /connections leaves one connection.created entry with the request id", async () => {
        const tenant = await createTenant(t);
        const res = await asConnectionsKey(t, tenant)("POST", "/connections", { customer_id: "cust-audit", retailer_id: "01J7SC0NN73R6F5VVSP3ZKPDA3" });
        await oneAudit(res, { actor: tenant, action: "connection.created", target: { type: "connection", id: res.json().connection_id }, entityId: tenant.entityId });
      });

      it("entity create, key create and key revoke: admin entries in the entity's log; a second revoke adds none", async () => {
        const entity = await t.admin("POST", "/admin/v1/entities", { name: "Audited Inc" });
        const entityId = entity.json().id as string;
        assert.deepEqual(await oneAudit(entity, { actor: "admin", action: "entity.created", target: { type: "entity", id: entityId }, entityId }), { name: { before: null, after: "Audited Inc" } });

        const key = await t.admin("POST", `/admin/v1/entities/${entityId}/api-keys`, { name: "ci", mode: "test", scopes: ["audit:read"] });
        const keyId = key.json().id as string;
        const onKey = await oneAudit(key, { actor: "admin", action: "api_key.created", target: { type: "api_key", id: keyId }, entityId });
        assert.deepEqual(Object.keys(onKey).sort(), ["mode", "name", "public_key", "rate_limit", "scopes"]);
        assert.ok(!JSON.stringify(onKey).includes(key.json().key), "never the secret");
        assert.ok(!JSON.stringify(onKey).includes(key.json().key_prefix), "nor its prefix");

        const revoked = await t.admin("DELETE", `/admin/v1/api-keys/${keyId}`);
        const onRevoke = await oneAudit(revoked, { actor: "admin", action: "api_key.revoked", target: { type: "api_key", id: keyId }, entityId });
        assert.deepEqual(onRevoke.revoked_at, { before: null, after: revoked.json().data.revoked_at });
        assert.equal((await auditOf(await t.admin("DELETE", `/admin/v1/api-keys/${keyId}`))).length, 0);
      });
    });

    describe("a write that rolls back leaves neither an event nor an audit entry", () => {
      it("a failure after the event (the audit INSERT fails): 500, row unchanged, nothing in events or audit_events", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const id = (await call("POST", "/v1/integrations/stripe")).json().id as string;
        const events = (await eventTypes(tenant.entityId)).length;
        const audits = await auditCount(tenant.entityId);
        // An injected failure inside the write's transaction, after emitEvent has run.
        await sql`create function audit_boom() returns trigger language plpgsql as $$
          begin
            if new.changes -> 'display_name' ->> 'after' = 'BOOM' then raise exception 'injected failure'; end if;
            return new;
          end $$`.execute(t.database.db);
        await sql`create trigger audit_boom before insert on audit_events for each row execute function audit_boom()`.execute(t.database.db);
        try {
          const res = await call("PATCH", "/v1/integrations/stripe", { display_name: "BOOM" });
          assert.equal(res.statusCode, 500, res.body);
          assert.equal(res.json().code, "internal_error");
        } finally {
          await sql`drop trigger audit_boom on audit_events`.execute(t.database.db);
          await sql`drop function audit_boom()`.execute(t.database.db);
        }
        const row = await t.database.db.selectFrom("connectors").select("display_name").where("id", "=", id).executeTakeFirstOrThrow();
        assert.equal(row.display_name, "Stripe", "the change rolled back");
        assert.equal((await eventTypes(tenant.entityId)).length, events, "no event");
        assert.equal(await auditCount(tenant.entityId), audits, "no audit entry");
      });

      it("a failure after both (queuing the credential check fails): the credentials, the event and the entry roll back together", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        await call("POST", "/v1/integrations/openai");
        const events = (await eventTypes(tenant.entityId)).length;
        const audits = await auditCount(tenant.entityId);
        const failing = createCredentialService({
          db: t.database.db,
          clock: t.clock,
          vault: t.services.vault,
          connectors: t.services.connectors,
          publicUrl: t.config.publicUrl,
          onCredentialsStored: async () => {
            throw new Error("injected failure");
          },
        });
        const actor = await t.services.apiKeys.authenticate(tenant.key);
        await assert.rejects(failing.putCredentials(actor, "openai", { api_key: "sk-rolled-back-1234" }), /injected failure/);
        assert.equal((await call("GET", "/v1/integrations/openai")).json().data.has_credentials_secret_arn, false);
        assert.equal((await eventTypes(tenant.entityId)).length, events);
        assert.equal(await auditCount(tenant.entityId), audits);
      });
    });

    it("a planted secret appears in no audit_events or events row", async () => {
      const tenant = await createTenant(t);
      const call = asKey(t, tenant);
      const planted = `sk_live_PLANTED${randomBytes(12).toString("hex")}`;
      const plantedHook = `whsec_PLANTED${randomBytes(12).toString("hex")}`;
      await call("POST", "/v1/integrations/stripe", { mode: "live" });
      assert.equal((await call("PUT", "/v1/integrations/stripe/credentials", { secret_key: planted, publishable_key: `pk_${planted}` })).statusCode, 200);
      assert.equal((await call("PUT", "/v1/integrations/stripe/webhook-secret", { webhook_secret: plantedHook })).statusCode, 200);
      await call("PATCH", "/v1/integrations/stripe", { display_name: "Live payments" });
      await call("POST", "/v1/integrations/stripe/verify");
      await call("DELETE", "/v1/integrations/stripe/credentials");
      await call("DELETE", "/v1/integrations/stripe");
      await call("POST", "/v1/integrations/stripe");
      const dump = await sql<{ row: string }>`
        select row_to_json(a)::text as row from audit_events a
        union all select row_to_json(e)::text from events e`.execute(t.database.db);
      const text = dump.rows.map((r) => r.row).join("\n");
      assert.ok(text.includes(tenant.keyId), "the dump holds this tenant's entries");
      for (const secret of [planted, plantedHook, "PLANTED", tenant.key]) assert.ok(!text.includes(secret), `${secret.slice(0, 12)}… leaked into the audit log or the outbox`);
    });
  });
}
