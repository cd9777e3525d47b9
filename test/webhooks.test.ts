import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import { EVENT_TYPES } from "../src/services/outbox.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { addKey, asKey, createTenant, type Tenant } from "./helpers/fixtures.ts";
import { bearerSurface, runSecurityBattery, type BatteryRoute } from "./helpers/security-battery.ts";
import { createEndpoint } from "./helpers/webhooks.ts";

const HOOK = "http://127.0.0.1:9/hook";
/** The webhook endpoint object of docs.arcuserp.com/api-reference/webhooks (+ updated_at). */
const ENDPOINT_FIELDS = [
  "api_version", "consecutive_failure_count", "created_at", "description", "enabled_events", "entity_id", "failure_count", "id",
  "last_delivery_at", "metadata", "mode", "object", "secret_last4", "status", "success_count", "updated_at", "url",
];

for (const kind of DB_KINDS) {
  describe(`[${kind}] /v1/webhook_endpoints`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind, { env: { PATCHBAY_WEBHOOK_ALLOW_PRIVATE: "true" } });
    });
    after(async () => t.close());

    describe("create, read, update, delete", () => {
      it("POST answers 201 with the endpoint and a whsec_ secret, shown that once", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const res = await call("POST", "/v1/webhook_endpoints", { url: HOOK, events: ["connector.updated", "connection.activated"], description: "ERP" });
        assert.equal(res.statusCode, 201, res.body);
        const created = res.json();
        assert.deepEqual(Object.keys(created).sort(), [...ENDPOINT_FIELDS, "secret"].sort());
        assert.equal(created.object, "webhook_endpoint");
        assert.match(created.secret, /^whsec_[0-9a-f]{64}$/);
        assert.equal(created.secret_last4, created.secret.slice(-4));
        assert.equal(created.status, "active");
        assert.equal(created.mode, "live");
        assert.deepEqual(created.enabled_events, ["connector.updated", "connection.activated"], "the deprecated alias events is accepted");

        const one = await call("GET", `/v1/webhook_endpoints/${created.id}`);
        assert.equal(one.statusCode, 200, one.body);
        assert.deepEqual(Object.keys(one.json()).sort(), ENDPOINT_FIELDS);
        assert.ok(!one.body.includes(created.secret));

        const list = await call("GET", "/v1/webhook_endpoints");
        assert.equal(list.statusCode, 200);
        const { data: _data, ...envelope } = list.json() as Record<string, unknown>;
        assert.deepEqual(envelope, { object: "list", has_more: false, url: "/v1/webhook_endpoints" });
        assert.deepEqual(list.json().data.map((e: { id: string }) => e.id), [created.id]);
        assert.ok(!list.body.includes(created.secret));
      });

      it("the list pages newest first with limit and starting_after / ending_before", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) ids.push((await createEndpoint(t, tenant, { url: `${HOOK}${i}`, events: ["*"] })).id);
        const first = (await call("GET", "/v1/webhook_endpoints?limit=2")).json();
        assert.deepEqual(first.data.map((e: { id: string }) => e.id), [ids[2], ids[1]]);
        assert.equal(first.has_more, true);
        const second = (await call("GET", `/v1/webhook_endpoints?limit=2&starting_after=${ids[1]}`)).json();
        assert.deepEqual(second.data.map((e: { id: string }) => e.id), [ids[0]]);
        assert.equal(second.has_more, false);
        const back = (await call("GET", `/v1/webhook_endpoints?limit=2&ending_before=${ids[0]}`)).json();
        assert.deepEqual(back.data.map((e: { id: string }) => e.id), [ids[2], ids[1]]);
      });

      it("PATCH changes url, enabled_events, status and description; DELETE removes it", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const { id } = await createEndpoint(t, tenant, { url: HOOK, events: ["*"] });
        const res = await call("PATCH", `/v1/webhook_endpoints/${id}`, { url: `${HOOK}2`, enabled_events: ["connection.disconnected"], status: "paused", description: "off" });
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual(
          { url: res.json().url, enabled_events: res.json().enabled_events, status: res.json().status, description: res.json().description },
          { url: `${HOOK}2`, enabled_events: ["connection.disconnected"], status: "paused", description: "off" },
        );
        assert.equal((await call("PATCH", `/v1/webhook_endpoints/${id}`, { description: null })).json().description, null);

        const del = await call("DELETE", `/v1/webhook_endpoints/${id}`);
        assert.equal(del.statusCode, 200, del.body);
        assert.deepEqual(del.json(), { object: "webhook_endpoint", id, deleted: true });
        assert.equal((await call("GET", `/v1/webhook_endpoints/${id}`)).statusCode, 404);
        const secrets = await t.database.db.selectFrom("vault_secrets").select("id").where("owner_id", "=", id).execute();
        assert.deepEqual(secrets, [], "the endpoint's sealed secrets are destroyed with it");
      });

      it("PATCH refuses fields outside url, enabled_events (events), description, status, api_version, metadata", async () => {
        const tenant = await createTenant(t);
        const { id } = await createEndpoint(t, tenant, { url: HOOK, events: ["*"] });
        const res = await asKey(t, tenant)("PATCH", `/v1/webhook_endpoints/${id}`, { secret: "whsec_mine" });
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().code, "validation_failed");
        assert.equal(res.json().param, "secret");
      });

      it("an unknown id, or one that is not a UUID, is 404", async () => {
        const call = asKey(t, await createTenant(t));
        for (const id of ["0190f0b4-0000-7000-8000-000000000000", "nope"]) {
          const res = await call("GET", `/v1/webhook_endpoints/${id}`);
          assert.equal(res.statusCode, 404, res.body);
          assert.equal(res.json().code, "webhook_endpoint_not_found");
        }
      });
    });

    describe("events are validated against the event types", () => {
      it("an unknown event type is 400 naming the param", async () => {
        const call = asKey(t, await createTenant(t));
        const res = await call("POST", "/v1/webhook_endpoints", { url: HOOK, events: ["connector.updated", "connector.exploded"] });
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().code, "validation_failed");
        assert.equal(res.json().param, "events.1");
      });

      it('"*" must stand alone; duplicates and an empty list are refused', async () => {
        const call = asKey(t, await createTenant(t));
        for (const events of [["*", "connector.updated"], ["connector.updated", "connector.updated"], []]) {
          const res = await call("POST", "/v1/webhook_endpoints", { url: HOOK, events });
          assert.equal(res.statusCode, 400, `${JSON.stringify(events)}: ${res.body}`);
          assert.match(res.json().param, /^events/);
        }
      });

      it("every event type and \"*\" is accepted", async () => {
        const tenant = await createTenant(t);
        assert.deepEqual((await createEndpoint(t, tenant, { url: HOOK, events: [...EVENT_TYPES] })).enabled_events, [...EVENT_TYPES]);
        assert.deepEqual((await createEndpoint(t, tenant, { url: HOOK, events: ["*"] })).enabled_events, ["*"]);
      });

      it("url, events are required; unknown fields refused", async () => {
        const call = asKey(t, await createTenant(t));
        assert.equal((await call("POST", "/v1/webhook_endpoints", { events: ["*"] })).json().param, "url");
        assert.equal((await call("POST", "/v1/webhook_endpoints", { url: HOOK })).json().param, "enabled_events");
        assert.equal((await call("POST", "/v1/webhook_endpoints", { url: HOOK, events: ["*"], secret: "x" })).json().param, "secret");
        assert.equal((await call("POST", "/v1/webhook_endpoints", { url: "ftp://example.com/x", events: ["*"] })).json().param, "url");
        assert.equal((await call("POST", "/v1/webhook_endpoints", { url: "https://user:pw@example.com/x", events: ["*"] })).json().param, "url");
      });

      it(`an entity has at most 16 endpoints (409 too_many_endpoints)`, async () => {
        const tenant = await createTenant(t);
        for (let i = 0; i < 16; i++) await createEndpoint(t, tenant, { url: HOOK, events: ["*"] });
        const res = await asKey(t, tenant)("POST", "/v1/webhook_endpoints", { url: HOOK, events: ["*"] });
        assert.equal(res.statusCode, 409, res.body);
        assert.equal(res.json().code, "too_many_endpoints");
      });
    });

    describe("Idempotency-Key: exactly one endpoint, and the secret is never stored", () => {
      it("a retried create answers the same endpoint without the secret; the idempotency table never holds it", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const body = { url: HOOK, events: ["*"] };
        const first = await call("POST", "/v1/webhook_endpoints", body, { "idempotency-key": "create-1" });
        assert.equal(first.statusCode, 201, first.body);
        const retry = await call("POST", "/v1/webhook_endpoints", body, { "idempotency-key": "create-1" });
        assert.equal(retry.statusCode, 201, retry.body);
        assert.equal(retry.headers["idempotent-replayed"], "true");
        assert.equal(retry.json().id, first.json().id);
        assert.equal(retry.json().secret, undefined, "the replay has no secret");
        const rows = await t.database.db.selectFrom("webhook_endpoints").select("id").where("entity_id", "=", tenant.entityId).execute();
        assert.equal(rows.length, 1, "one execution");

        const rotated = await call("POST", `/v1/webhook_endpoints/${first.json().id}/rotate_secret`, undefined, { "idempotency-key": "rotate-1" });
        assert.equal(rotated.statusCode, 200, rotated.body);
        const rotatedAgain = await call("POST", `/v1/webhook_endpoints/${first.json().id}/rotate_secret`, undefined, { "idempotency-key": "rotate-1" });
        assert.equal(rotatedAgain.headers["idempotent-replayed"], "true");
        assert.equal(rotatedAgain.json().secret, undefined);
        assert.equal(rotatedAgain.json().previous_secret_expires_at, rotated.json().previous_secret_expires_at);

        const { rows: stored } = await sql<Record<string, unknown>>`select * from idempotency_keys`.execute(t.database.db);
        const dump = JSON.stringify(stored.map((r) => ({ ...r, response_body: Buffer.from(r.response_body as Buffer).toString("utf8") })));
        assert.ok(dump.includes(first.json().id), "control: the stored replay is in the dump");
        for (const secret of [first.json().secret, rotated.json().secret]) assert.ok(!dump.includes(secret), "a signing secret is in the idempotency store");
      });
    });

    describe("GET responses and log lines never carry a signing secret", () => {
      it("only the create and rotate answers do", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const created = await createEndpoint(t, tenant, { url: HOOK, events: ["*"] });
        const rotated = (await call("POST", `/v1/webhook_endpoints/${created.id}/rotate_secret`)).json();
        assert.match(rotated.secret, /^whsec_/);
        assert.notEqual(rotated.secret, created.secret);
        await call("GET", `/v1/webhook_endpoints/${created.id}`);
        await call("GET", "/v1/webhook_endpoints");
        await call("PATCH", `/v1/webhook_endpoints/${created.id}`, { description: "x" });
        await call("GET", `/v1/webhook_endpoints/${created.id}/deliveries`);
        for (const secret of [created.secret, rotated.secret]) {
          const carrying = t.responses.filter((r) => r.includes(secret));
          assert.equal(carrying.length, 1, "only the answer that made it shows a secret");
          assert.deepEqual(t.logs.filter((l) => l.includes(secret)), []);
        }
      });
    });

    describe("the shared security battery", () => {
      const own = async (app: TestApp, owner: Tenant) => ({ id: (await createEndpoint(app, owner, { url: HOOK, events: ["*"] })).id });
      // An endpoint with one delivery (its test event's), for the retry route.
      const withDelivery = async (app: TestApp, owner: Tenant) => {
        const { id } = await own(app, owner);
        const sent = await asKey(app, owner)("POST", `/v1/webhook_endpoints/${id}/send_test_event`);
        assert.equal(sent.statusCode, 202, sent.body);
        return { id, delivery_id: sent.json().queued_delivery_id as string };
      };
      const routes: Omit<BatteryRoute, "surface" | "scope">[] = [
        // A test key lists and creates test endpoints (docs.arcuserp.com api-reference/webhooks: mode): no live-data case here.
        { method: "GET", url: () => "/v1/webhook_endpoints" },
        { method: "POST", url: () => "/v1/webhook_endpoints", payload: { url: HOOK, enabled_events: ["*"] } },
        { method: "GET", url: (c) => `/v1/webhook_endpoints/${c.id}`, setup: own, setupLive: own },
        { method: "PATCH", url: (c) => `/v1/webhook_endpoints/${c.id}`, payload: { status: "paused" }, setup: own, setupLive: own },
        { method: "DELETE", url: (c) => `/v1/webhook_endpoints/${c.id}`, setup: own, setupLive: own },
        { method: "POST", url: (c) => `/v1/webhook_endpoints/${c.id}/rotate_secret`, setup: own, setupLive: own },
        { method: "GET", url: (c) => `/v1/webhook_endpoints/${c.id}/deliveries`, setup: own, setupLive: own },
        { method: "POST", url: (c) => `/v1/webhook_endpoints/${c.id}/send_test_event`, setup: own, setupLive: own },
        { method: "POST", url: (c) => `/v1/webhook_endpoints/${c.id}/deliveries/${c.delivery_id}/retry`, setup: withDelivery, setupLive: withDelivery },
      ];
      for (const r of routes) runSecurityBattery(`${r.method} ${r.url({ id: "{id}" })}`, () => t, { ...r, scope: "webhooks:manage", surface: bearerSurface });

      it("a key with only webhooks:manage manages endpoints; without it, 403 insufficient_scope naming it", async () => {
        const tenant = await createTenant(t, { scopes: ["webhooks:manage"] });
        assert.equal((await asKey(t, tenant)("POST", "/v1/webhook_endpoints", { url: HOOK, events: ["*"] })).statusCode, 201);
        const weak = await addKey(t, tenant.entityId, { scopes: ["integrations:read", "integrations:write"] });
        const res = await asKey(t, weak)("GET", "/v1/webhook_endpoints");
        assert.equal(res.statusCode, 403);
        assert.equal(res.json().code, "insufficient_scope");
        assert.equal(res.json().required, "webhooks:manage");
      });
    });
  });

  describe(`[${kind}] webhook URLs must be public (PATCHBAY_WEBHOOK_ALLOW_PRIVATE unset)`, () => {
    let t: TestApp;
    before(async () => {
      const dns: Record<string, string> = { "hooks.example.com": "93.184.216.34", "internal.example.com": "10.1.2.3", "meta.example.com": "169.254.169.254", "v6.example.com": "fd00::1" };
      t = await startTestApp(kind, {
        resolveHost: async (host) => {
          const address = dns[host];
          if (!address) throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
          return [{ address, family: address.includes(":") ? 6 : 4 }];
        },
      });
    });
    after(async () => t.close());

    it("refuses loopback, private, link-local and unique-local hosts (400 url_not_public)", async () => {
      const call = asKey(t, await createTenant(t));
      const refused = [
        "https://127.0.0.1/hook", "https://localhost/hook", "https://10.0.0.8/hook", "https://192.168.1.1/hook", "https://172.20.0.1/hook",
        "https://169.254.169.254/latest", "https://[::1]/hook", "https://[fe80::1]/hook", "https://[fd12::1]/hook", "https://[::ffff:127.0.0.1]/hook",
        "https://0.0.0.0/hook", "https://internal.example.com/hook", "https://meta.example.com/", "https://v6.example.com/",
      ];
      for (const url of refused) {
        const res = await call("POST", "/v1/webhook_endpoints", { url, events: ["*"] });
        assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
        assert.equal(res.json().param, "url");
        if (!url.includes("localhost")) assert.equal(res.json().code, "url_not_public", url);
      }
    });

    it("refuses plain http and hosts that do not resolve; accepts a public https host", async () => {
      const tenant = await createTenant(t);
      const call = asKey(t, tenant);
      const http = await call("POST", "/v1/webhook_endpoints", { url: "http://hooks.example.com/x", events: ["*"] });
      assert.equal(http.statusCode, 400);
      assert.match(http.json().hint, /https/);
      const nowhere = await call("POST", "/v1/webhook_endpoints", { url: "https://nowhere.example.com/x", events: ["*"] });
      assert.equal(nowhere.statusCode, 400);
      assert.equal(nowhere.json().code, "url_unresolvable");
      const ok = await call("POST", "/v1/webhook_endpoints", { url: "https://hooks.example.com/x", events: ["*"] });
      assert.equal(ok.statusCode, 201, ok.body);
      const patched = await call("PATCH", `/v1/webhook_endpoints/${ok.json().id}`, { url: "https://internal.example.com/x" });
      assert.equal(patched.statusCode, 400, "PATCH applies the same rule");
    });
  });
}
