import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ConnectorType } from "../src/catalog/index.ts";
import { registerPurgeJob } from "../src/jobs/purge.ts";
import { createJobQueue } from "../src/queue/queue.ts";
import { CREDENTIALS_PURPOSE, WEBHOOK_SECRET_PURPOSE } from "../src/services/credentials.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { addKey, asKey, assertSeedRow, createTenant, type Tenant } from "./helpers/fixtures.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { bearerSurface, runSecurityBattery } from "./helpers/security-battery.ts";

for (const kind of DB_KINDS) {
  describe(`[${kind}] write-only credentials`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(async () => t.close());

    const connector = async (tenant: Tenant, type: ConnectorType = "stripe", body: Record<string, unknown> = {}) => {
      const res = await asKey(t, tenant)("POST", `/v1/integrations/${type}`, body);
      assert.equal(res.statusCode, 201, res.body);
      return res.json() as { id: string; entity_id: string };
    };
    const secretsOf = (ownerId: string) => t.database.db.selectFrom("vault_secrets").selectAll().where("owner_id", "=", ownerId).execute();

    describe("PUT …/credentials seals them; the row shows only that they exist and their key names", () => {
      it("answers {data: row} with has_credentials_secret_arn and the sorted key names, never a value", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const c = await connector(tenant);
        const res = await call("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_live_put_1", publishable_key: "pk_live_put_1" });
        assert.equal(res.statusCode, 200, res.body);
        const row = res.json().data;
        assertSeedRow(row);
        assert.equal(row.has_credentials_secret_arn, true);
        assert.deepEqual(row.credentials_masked, ["publishable_key", "secret_key"]);
        assert.equal(row.has_webhook_secret, false);
        assert.ok(!res.body.includes("sk_live_put_1") && !res.body.includes("pk_live_put_1"));

        const get = await call("GET", "/v1/integrations/stripe");
        assert.equal(get.json().data.has_credentials_secret_arn, true);
        assert.deepEqual(get.json().data.credentials_masked, ["publishable_key", "secret_key"]);
        const list = await call("GET", "/v1/integrations");
        assert.deepEqual(list.json().data[0].credentials_masked, ["publishable_key", "secret_key"]);
        for (const r of [get, list]) assert.ok(!r.body.includes("sk_live_put_1"));

        assert.deepEqual(await t.services.credentials.openCredentials(c), { secret_key: "sk_live_put_1", publishable_key: "pk_live_put_1" });
        const [stored] = await secretsOf(c.id);
        assert.equal(stored!.purpose, CREDENTIALS_PURPOSE);
        assert.ok(!stored!.ciphertext.toString("latin1").includes("sk_live_put_1"), "stored sealed, not in clear");
      });

      it("a second PUT replaces the whole set (PUT semantics), in the same vault row", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const c = await connector(tenant, "openai");
        await call("PUT", "/v1/integrations/openai/credentials", { api_key: "sk-one", organization_id: "org-1" });
        const before = await secretsOf(c.id);
        const res = await call("PUT", "/v1/integrations/openai/credentials", { api_key: "sk-two" });
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual(res.json().data.credentials_masked, ["api_key"]);
        assert.deepEqual(await t.services.credentials.openCredentials(c), { api_key: "sk-two" });
        const afterRows = await secretsOf(c.id);
        assert.equal(afterRows.length, 1);
        assert.equal(afterRows[0]!.id, before[0]!.id);
        assert.notDeepEqual(afterRows[0]!.wrapped_key, before[0]!.wrapped_key, "a fresh data key for every seal");
      });

      it("works on a paused connector", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        await connector(tenant);
        await call("PATCH", "/v1/integrations/stripe", { is_active: false });
        const res = await call("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_paused" });
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().data.is_active, false);
      });
    });

    describe("credential keys are validated against the catalog", () => {
      it("an unknown key → 400 validation_failed naming it; nothing is stored", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const c = await connector(tenant);
        const res = await call("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_ok", password: "hunter2-unknown" });
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().code, "validation_failed");
        assert.equal(res.json().param, "password");
        assert.match(res.json().hint, /publishable_key, secret_key/);
        assert.ok(!res.body.includes("hunter2-unknown") && !res.body.includes("sk_ok"));
        assert.deepEqual(await secretsOf(c.id), []);
        assert.equal((await call("GET", "/v1/integrations/stripe")).json().data.has_credentials_secret_arn, false);
      });

      it("every required key must be present", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        await connector(tenant, "avatax");
        const res = await call("PUT", "/v1/integrations/avatax/credentials", { account_id: "1100000000" });
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().code, "validation_failed");
        assert.equal(res.json().param, "license_key");
        const ok = await call("PUT", "/v1/integrations/avatax/credentials", { account_id: "1100000000", license_key: "A1B2C3" });
        assert.equal(ok.statusCode, 200, ok.body);
      });

      it("values must be non-empty strings; the body an object of them", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        await connector(tenant);
        for (const body of [{ secret_key: 42 }, { secret_key: "" }, { secret_key: { nested: "sk_nested" } }, {}, [], "sk_raw", null, { secret_key: "x".repeat(16385) }]) {
          const res = await call("PUT", "/v1/integrations/stripe/credentials", JSON.stringify(body), { "content-type": "application/json" });
          assert.equal(res.statusCode, 400, `${JSON.stringify(body).slice(0, 60)}: ${res.body}`);
          assert.equal(res.json().code, "validation_failed");
          assert.ok(!res.body.includes("sk_nested") && !res.body.includes("sk_raw"));
        }
      });

      it("Shopify (OAuth) takes no credentials here", async () => {
        const tenant = await createTenant(t);
        const res = await asKey(t, tenant)("PUT", "/v1/integrations/shopify/credentials", { access_token: "shpat_x" });
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().param, "connector_type");
        assert.match(res.json().hint, /OAuth/);
      });

      it("an unknown connector type → 400, an absent connector → 404 with a hint", async () => {
        const call = asKey(t, await createTenant(t));
        const unknown = await call("PUT", "/v1/integrations/myspace/credentials", { api_key: "x" });
        assert.equal(unknown.statusCode, 400);
        assert.equal(unknown.json().param, "connector_type");
        const absent = await call("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_absent" });
        assert.equal(absent.statusCode, 404, absent.body);
        assert.match(absent.json().hint, /POST/);
      });
    });

    describe("DELETE …/credentials destroys them at once", () => {
      it("the row shows none, the vault row is gone, and a second DELETE is harmless", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const c = await connector(tenant);
        await call("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_del" });
        const res = await call("DELETE", "/v1/integrations/stripe/credentials");
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().data.has_credentials_secret_arn, false);
        assert.deepEqual(res.json().data.credentials_masked, []);
        assert.equal(res.json().data.is_active, true, "the connector itself stays");
        assert.deepEqual(await secretsOf(c.id), []);
        assert.equal(await t.services.credentials.openCredentials(c), null);
        const again = await call("DELETE", "/v1/integrations/stripe/credentials");
        assert.equal(again.statusCode, 200);
        assert.equal(again.json().data.updated_at, res.json().data.updated_at, "nothing changed");
      });
    });

    describe("PUT/DELETE …/webhook-secret", () => {
      it("seals the signing secret; the row shows has_webhook_secret only", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const c = await connector(tenant);
        const res = await call("PUT", "/v1/integrations/stripe/webhook-secret", { webhook_secret: "whsec_plant_1" });
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().data.has_webhook_secret, true);
        assert.equal(res.json().data.has_credentials_secret_arn, false);
        assert.ok(!res.body.includes("whsec_plant_1"));
        assert.equal(await t.services.credentials.openWebhookSecret(c), "whsec_plant_1");
        assert.deepEqual((await secretsOf(c.id)).map((s) => s.purpose), [WEBHOOK_SECRET_PURPOSE]);

        const del = await call("DELETE", "/v1/integrations/stripe/webhook-secret");
        assert.equal(del.statusCode, 200);
        assert.equal(del.json().data.has_webhook_secret, false);
        assert.deepEqual(await secretsOf(c.id), []);
      });

      it("refuses a body that is not {webhook_secret: non-empty string}", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        await connector(tenant);
        for (const body of [{}, { webhook_secret: "" }, { webhook_secret: 5 }, { webhook_secret: "whsec_ok", extra: "whsec_extra" }, { secret: "whsec_wrong_name" }]) {
          const res = await call("PUT", "/v1/integrations/stripe/webhook-secret", body);
          assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
          assert.equal(res.json().code, "validation_failed");
          assert.ok(!/whsec_/.test(res.body));
        }
      });
    });

    describe("secrets of a disconnected connector are not writable until it is restored", () => {
      it("PUT/DELETE on a disconnected connector → 409 connector_disconnected with a hint", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        await connector(tenant);
        await call("DELETE", "/v1/integrations/stripe");
        for (const [method, url, body] of [
          ["PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_late" }],
          ["DELETE", "/v1/integrations/stripe/credentials", undefined],
          ["PUT", "/v1/integrations/stripe/webhook-secret", { webhook_secret: "whsec_late" }],
        ] as const) {
          const res = await call(method, url, body);
          assert.equal(res.statusCode, 409, `${method} ${url}: ${res.body}`);
          assert.equal(res.json().code, "connector_disconnected");
          assert.match(res.json().hint, /POST/);
        }
      });
    });

    describe("7-day recovery: DELETE keeps the sealed blob, a re-POST restores it (seeds 001, 002)", () => {
      it("within 7 days: 200, has_credentials_secret_arn true, same credentials_masked, same secrets", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const c = await connector(tenant);
        await call("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_keep", publishable_key: "pk_keep" });
        await call("PUT", "/v1/integrations/stripe/webhook-secret", { webhook_secret: "whsec_keep" });
        const del = await call("DELETE", "/v1/integrations/stripe");
        assert.equal(del.json().data.has_credentials_secret_arn, true, "kept sealed while disconnected");
        assert.equal((await secretsOf(c.id)).length, 2);

        t.clock.advanceDays(6);
        await t.services.jobs.runDueJobs();
        assert.equal((await secretsOf(c.id)).length, 2, "the purge leaves connectors inside the window alone");
        const res = await call("POST", "/v1/integrations/stripe", {});
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().id, c.id);
        assert.equal(res.json().has_credentials_secret_arn, true);
        assert.equal(res.json().has_webhook_secret, true);
        assert.deepEqual(res.json().credentials_masked, ["publishable_key", "secret_key"]);
        assert.deepEqual(await t.services.credentials.openCredentials(c), { secret_key: "sk_keep", publishable_key: "pk_keep" });
        assert.equal(await t.services.credentials.openWebhookSecret(c), "whsec_keep");
      });

      it("after 7 days the purge job destroys blob and data key; a re-POST starts fresh (201, no credentials)", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const c = await connector(tenant);
        const active = await connector(tenant, "postmark");
        await call("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_gone" });
        await call("PUT", "/v1/integrations/stripe/webhook-secret", { webhook_secret: "whsec_gone" });
        await call("PUT", "/v1/integrations/postmark/credentials", { server_token: "pm_stays" });
        await call("DELETE", "/v1/integrations/stripe");

        t.clock.advanceDays(7);
        await t.services.jobs.runDueJobs();
        assert.deepEqual(await secretsOf(c.id), [], "ciphertext and wrapped data key are gone");
        const gone = await t.database.db.selectFrom("connectors").select("id").where("id", "=", c.id).execute();
        assert.deepEqual(gone, []);
        assert.equal((await secretsOf(active.id)).length, 1, "an active connector's secrets are untouched");

        const res = await call("POST", "/v1/integrations/stripe", {});
        assert.equal(res.statusCode, 201, res.body);
        assert.notEqual(res.json().id, c.id);
        assert.equal(res.json().has_credentials_secret_arn, false);
        assert.equal(res.json().has_webhook_secret, false);
        assert.deepEqual(res.json().credentials_masked, []);
      });

      it("past 7 days a re-POST starts fresh even before the purge has run, and destroys the old blob", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const c = await connector(tenant);
        await call("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_stale" });
        await call("DELETE", "/v1/integrations/stripe");
        t.clock.advanceDays(8);
        const res = await call("POST", "/v1/integrations/stripe", {});
        assert.equal(res.statusCode, 201, res.body);
        assert.equal(res.json().has_credentials_secret_arn, false);
        assert.deepEqual(await secretsOf(c.id), []);
      });

      it("the purge runs once across two processes and again every interval", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        // Two processes: each its own queue with the purge registered, over the same database; count the purge runs.
        let runs = 0;
        const counted = { purgeExpiredConnectors: (batch: number) => (runs++, t.services.connectors.purgeExpiredConnectors(batch)) };
        const first = createJobQueue({ db: t.database.db, clock: t.clock });
        const second = createJobQueue({ db: t.database.db, clock: t.clock });
        for (const q of [first, second]) registerPurgeJob(q, { connectors: counted, everyMs: t.config.purgeIntervalMs });
        await Promise.all([first.runDueJobs(), second.runDueJobs()]);
        runs = 0;
        for (const type of ["stripe", "postmark", "openai"] as const) {
          await connector(tenant, type);
          await call("DELETE", `/v1/integrations/${type}`);
        }
        t.clock.advanceDays(7);
        t.clock.advance(t.config.purgeIntervalMs);
        await Promise.all([first.runDueJobs(), second.runDueJobs()]);
        assert.equal(runs, 1, "one purge run, in one process");
        const left = await t.database.db.selectFrom("connectors").select("id").where("entity_id", "=", tenant.entityId).execute();
        assert.deepEqual(left, []);
      });
    });

    describe("security battery", () => {
      const own = async (tt: TestApp, owner: { key: string }, mode = "sandbox") => {
        const res = await asKey(tt, owner)("POST", "/v1/integrations/stripe", { mode });
        assert.equal(res.statusCode, 201, res.body);
        return { type: "stripe", id: res.json().id as string };
      };
      const live = (a: TestApp, o: { key: string }) => own(a, o, "live");
      const routes = [
        { method: "PUT" as const, url: () => "/v1/integrations/stripe/credentials", payload: { secret_key: "sk_battery" } },
        { method: "DELETE" as const, url: () => "/v1/integrations/stripe/credentials" },
        { method: "PUT" as const, url: () => "/v1/integrations/stripe/webhook-secret", payload: { webhook_secret: "whsec_battery" } },
        { method: "DELETE" as const, url: () => "/v1/integrations/stripe/webhook-secret" },
      ];
      for (const r of routes) {
        runSecurityBattery(`${r.method} ${r.url()}`, () => t, { ...r, scope: "integrations:write", setup: own, setupLive: live, surface: bearerSurface });
      }

      it("a test key may write the secrets of a sandbox connector", async () => {
        const owner = await createTenant(t);
        await own(t, owner);
        const testKey = await addKey(t, owner.entityId, { mode: "test" });
        const res = await asKey(t, testKey)("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_test_ok" });
        assert.equal(res.statusCode, 200, res.body);
      });
    });
  });
}
