import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import { toConnectorRow } from "../src/services/connector-row.ts";
import { emitEvent } from "../src/services/outbox.ts";
import { toShopIntegration } from "../src/services/shop-integrations.ts";
import { RETRY_DELAYS_MS } from "../src/services/webhook-schedule.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { startFakeProvider } from "./helpers/fake-provider.ts";
import { asConnectionsKey, createConnection, mintToken } from "./helpers/connections.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { asKey, createTenant, type Tenant } from "./helpers/fixtures.ts";
import { clockSeconds, count, createEndpoint, deliveriesOf, emit, startReceiver, verifyPatchbaySignature, verifySendcloudSignature, type Receiver } from "./helpers/webhooks.ts";

const v1Count = (header: string) => header.split(",").filter((p) => p.startsWith("v1=")).length;

for (const kind of DB_KINDS) {
  describe(`[${kind}] webhook delivery`, () => {
    let t: TestApp;
    let receiver: Receiver;
    before(async () => {
      t = await startTestApp(kind, { env: { PATCHBAY_WEBHOOK_ALLOW_PRIVATE: "true" } });
    });
    after(async () => t.close());

    const fresh = async (statuses: number[] = [200]) => {
      await receiver?.close();
      receiver = await startReceiver(statuses);
      return receiver;
    };
    after(async () => receiver?.close());

    describe("a committed event reaches each subscribed endpoint, signed", () => {
      it("body: the event envelope of docs.arcuserp.com/concepts/webhooks; Arcus-Signature verifies; the log keeps the body sent", async () => {
        const r = await fresh();
        const tenant = await createTenant(t);
        const endpoint = await createEndpoint(t, tenant, { url: r.url, events: ["connection.activated"] });
        const eventId = await emit(t, tenant.entityId, "connection.activated", { connection_id: "C1", status: "active" });
        await t.services.jobs.runDueJobs();

        assert.equal(r.hooks().length, 1);
        const req = r.hooks()[0]!;
        const body = JSON.parse(req.body);
        assert.deepEqual(Object.keys(body), ["id", "object", "type", "created_at", "api_version", "entity_id", "data", "livemode"]);
        assert.equal(body.id, eventId);
        assert.equal(body.object, "event");
        assert.equal(body.type, "connection.activated");
        const stored = await t.database.db.selectFrom("events").select("created_at").where("id", "=", eventId).executeTakeFirstOrThrow();
        assert.equal(body.created_at, stored.created_at.toISOString(), "ISO 8601, the event's time");
        assert.equal(body.api_version, "2026-05-01");
        assert.equal(body.entity_id, tenant.entityId);
        assert.deepEqual(body.data, { object: { connection_id: "C1", status: "active" } });
        assert.equal(body.livemode, true);
        assert.equal(req.headers["content-type"], "application/json");
        assert.equal(req.headers["patchbay-event-id"], eventId);
        assert.match(String(req.headers["user-agent"]), /^Patchbay-Webhooks\//);
        assert.equal(req.headers["patchbay-signature"], undefined, "the reference's header only");
        const signature = String(req.headers["arcus-signature"]);
        assert.match(signature, /^t=\d+,v1=[0-9a-f]{64}$/);
        assert.equal(verifyPatchbaySignature(signature, req.body, endpoint.secret, clockSeconds(t)), true);
        assert.equal(verifyPatchbaySignature(signature, req.body + " ", endpoint.secret, clockSeconds(t)), false, "a changed body fails");
        assert.equal(verifyPatchbaySignature(signature, req.body, "whsec_wrong", clockSeconds(t)), false, "another secret fails");
        assert.equal(verifyPatchbaySignature(signature, req.body, endpoint.secret, clockSeconds(t) + 301), false, "older than 5 minutes fails");

        const [delivery] = await deliveriesOf(t, tenant, endpoint.id);
        assert.equal(delivery!.status, "succeeded");
        assert.equal(delivery!.event_id, eventId);
        assert.equal(delivery!.event_type, "connection.activated");
        assert.equal(delivery!.attempts.length, 1);
        assert.equal(delivery!.attempts[0].status_code, 200);
        assert.equal(delivery!.attempts[0].error, null);
        assert.equal(typeof delivery!.attempts[0].latency_ms, "number");
        assert.equal(delivery!.attempts[0].request_body, req.body, "the log shows the body as sent");
        assert.equal(delivery!.next_attempt_at, null);
        const counted = (await asKey(t, tenant)("GET", `/v1/webhook_endpoints/${endpoint.id}`)).json();
        assert.deepEqual([counted.success_count, counted.failure_count, counted.consecutive_failure_count], [1, 0, 0]);
        assert.equal(counted.last_delivery_at, delivery!.attempts[0].attempted_at);
      });

      it("fans out to subscribed and \"*\" endpoints only: not to others, disabled ones or another entity's", async () => {
        const r = await fresh();
        const tenant = await createTenant(t);
        const other = await createTenant(t);
        const all = await createEndpoint(t, tenant, { url: `${r.url}?e=all`, events: ["*"] });
        const exact = await createEndpoint(t, tenant, { url: `${r.url}?e=exact`, events: ["connection.disconnected", "connector.updated"] });
        await createEndpoint(t, tenant, { url: `${r.url}?e=unsubscribed`, events: ["connector.connected"] });
        await createEndpoint(t, tenant, { url: `${r.url}?e=disabled`, events: ["*"], status: "paused" });
        await createEndpoint(t, other, { url: `${r.url}?e=other`, events: ["*"] });
        await emit(t, tenant.entityId, "connection.disconnected", { connection_id: "C2" });
        await t.services.jobs.runDueJobs();
        assert.deepEqual(r.hooks().map((q) => q.query.get("e")).sort(), ["all", "exact"]);
        assert.equal((await deliveriesOf(t, tenant, all.id)).length, 1);
        assert.equal((await deliveriesOf(t, tenant, exact.id)).length, 1);
      });

      it("a rolled-back transaction emits and delivers nothing", async () => {
        const r = await fresh();
        const tenant = await createTenant(t);
        await createEndpoint(t, tenant, { url: r.url, events: ["*"] });
        const before = { events: await count(t, "events"), deliveries: await count(t, "webhook_deliveries"), jobs: await count(t, "jobs") };
        await assert.rejects(
          t.database.db.transaction().execute(async (trx) => {
            await emitEvent(trx, { entityId: tenant.entityId, type: "connector.updated", data: { id: "x" }, at: t.clock.now() });
            assert.equal(await count({ ...t, database: { ...t.database, db: trx } } as TestApp, "webhook_deliveries", sql`true`), before.deliveries + 1, "fanned out inside");
            throw new Error("the change failed");
          }),
          /the change failed/,
        );
        assert.deepEqual({ events: await count(t, "events"), deliveries: await count(t, "webhook_deliveries"), jobs: await count(t, "jobs") }, before);
        await t.services.jobs.runDueJobs();
        assert.equal(r.requests.length, 0);
      });
    });

    describe("retries with backoff until 2xx", () => {
      it("a receiver that fails twice, then succeeds, gets the event on the third try", async () => {
        const r = await fresh([500, 503, 204]);
        const tenant = await createTenant(t);
        const endpoint = await createEndpoint(t, tenant, { url: r.url, events: ["*"] });
        const eventId = await emit(t, tenant.entityId, "connector.updated", { id: "c" });

        await t.services.jobs.runDueJobs();
        let [d] = await deliveriesOf(t, tenant, endpoint.id);
        assert.equal(d!.status, "pending");
        assert.deepEqual(d!.attempts.map((a: { status_code: number }) => a.status_code), [500]);
        assert.equal(d!.attempts[0].error, "receiver answered 500");
        const wait = Date.parse(d!.next_attempt_at) - Date.parse(d!.attempts[0].attempted_at);
        assert.ok(Math.abs(wait - RETRY_DELAYS_MS[0]) < 1000, `first retry after 1 minute, got ${wait} ms`);

        t.clock.advance(RETRY_DELAYS_MS[0] - 5_000);
        await t.services.jobs.runDueJobs();
        assert.equal(r.hooks().length, 1, "not before its time");
        t.clock.advance(10_000);
        await t.services.jobs.runDueJobs();
        assert.equal(r.hooks().length, 2);
        t.clock.advance(RETRY_DELAYS_MS[1] + 1_000);
        await t.services.jobs.runDueJobs();
        assert.equal(r.hooks().length, 3);

        [d] = await deliveriesOf(t, tenant, endpoint.id);
        assert.equal(d!.status, "succeeded");
        assert.deepEqual(d!.attempts.map((a: { status_code: number }) => a.status_code), [500, 503, 204]);
        assert.equal(d!.next_attempt_at, null);
        assert.ok(r.hooks().every((q) => JSON.parse(q.body).id === eventId && q.headers["patchbay-event-id"] === eventId), "the same event each time");
        t.clock.advanceDays(2);
        await t.services.jobs.runDueJobs();
        assert.equal(r.hooks().length, 3, "nothing after success");
      });

      it("5 consecutive failed tries pause the endpoint (webhook_endpoint.auto_paused); the delivery fails; set active, a manual retry sends it again", async () => {
        const r = await fresh([500]);
        const tenant = await createTenant(t);
        const endpoint = await createEndpoint(t, tenant, { url: r.url, events: ["*"] });
        await emit(t, tenant.entityId, "connector.updated", { id: "c" });
        await t.services.jobs.runDueJobs();
        for (const delay of RETRY_DELAYS_MS) {
          t.clock.advance(delay + 1_000);
          await t.services.jobs.runDueJobs();
        }
        assert.equal(r.hooks().length, 5, "the 5th consecutive failure pauses the endpoint: nothing more is sent");
        let [d] = await deliveriesOf(t, tenant, endpoint.id);
        assert.equal(d!.status, "failed");
        assert.equal(d!.attempts.length, 6, "5 sent, then one logged as not sent (paused)");
        assert.equal(d!.attempts[5].error, "endpoint disabled");
        assert.equal(d!.attempts[5].request_body, undefined);
        assert.equal(d!.next_attempt_at, null);
        const paused = (await asKey(t, tenant)("GET", `/v1/webhook_endpoints/${endpoint.id}`)).json();
        assert.deepEqual([paused.status, paused.failure_count, paused.consecutive_failure_count, paused.success_count], ["paused", 5, 5, 0]);
        const pausedEvents = await t.database.db.selectFrom("events").selectAll().where("entity_id", "=", tenant.entityId).where("type", "=", "webhook_endpoint.auto_paused").execute();
        assert.equal(pausedEvents.length, 1);
        assert.equal((pausedEvents[0]!.data as { id: string }).id, endpoint.id);
        t.clock.advanceDays(3);
        await t.services.jobs.runDueJobs();
        assert.equal(r.hooks().length, 5, "no try after the last");
        assert.deepEqual(await t.services.jobs.failedJobs(), [], "the queue keeps no failed job: the delivery holds the outcome");

        r.answer([200]);
        const refused = await asKey(t, tenant)("POST", `/v1/webhook_endpoints/${endpoint.id}/deliveries/${d!.id}/retry`);
        assert.equal(refused.statusCode, 409, "a paused endpoint is sent nothing");
        const resumed = await asKey(t, tenant)("PATCH", `/v1/webhook_endpoints/${endpoint.id}`, { status: "active" });
        assert.deepEqual([resumed.json().status, resumed.json().consecutive_failure_count], ["active", 0]);
        const retry = await asKey(t, tenant)("POST", `/v1/webhook_endpoints/${endpoint.id}/deliveries/${d!.id}/retry`);
        assert.equal(retry.statusCode, 202, retry.body);
        assert.equal(retry.json().object, "webhook_delivery");
        await t.services.jobs.runDueJobs();
        assert.equal(r.hooks().length, 6);
        [d] = await deliveriesOf(t, tenant, endpoint.id);
        assert.equal(d!.status, "succeeded");
        assert.equal(d!.attempts.length, 7);
        const after = (await asKey(t, tenant)("GET", `/v1/webhook_endpoints/${endpoint.id}`)).json();
        assert.deepEqual([after.success_count, after.failure_count, after.consecutive_failure_count], [1, 5, 0], "a success resets the consecutive count");
      });

      it("a manual retry of a pending delivery tries now and keeps the schedule if it fails again", async () => {
        const r = await fresh([500]);
        const tenant = await createTenant(t);
        const endpoint = await createEndpoint(t, tenant, { url: r.url, events: ["*"] });
        await emit(t, tenant.entityId, "connector.updated", { id: "c" });
        await t.services.jobs.runDueJobs();
        const [d] = await deliveriesOf(t, tenant, endpoint.id);
        const retry = await asKey(t, tenant)("POST", `/v1/webhook_endpoints/${endpoint.id}/deliveries/${d!.id}/retry`);
        assert.equal(retry.statusCode, 202);
        await t.services.jobs.runDueJobs();
        const [after] = await deliveriesOf(t, tenant, endpoint.id);
        assert.equal(after!.status, "pending");
        assert.equal(after!.attempts.length, 2);
        assert.equal(after!.next_attempt_at, d!.next_attempt_at);
        const missing = await asKey(t, tenant)("POST", `/v1/webhook_endpoints/${endpoint.id}/deliveries/0190f0b4-0000-7000-8000-000000000000/retry`);
        assert.equal(missing.statusCode, 404);
        assert.equal(missing.json().code, "webhook_delivery_not_found");
      });

      it("no listener is a failed try with a short error", async () => {
        const r = await fresh();
        await r.close();
        const tenant = await createTenant(t);
        const endpoint = await createEndpoint(t, tenant, { url: r.url, events: ["*"] });
        await emit(t, tenant.entityId, "connector.updated", { id: "c" });
        await t.services.jobs.runDueJobs();
        const [d] = await deliveriesOf(t, tenant, endpoint.id);
        assert.equal(d!.attempts[0].status_code, null);
        assert.equal(d!.attempts[0].error, "connection refused");
      });
    });

    describe("secret rotation", () => {
      it("both signatures verify for 24 h after a rotation, then only the new one is sent", async () => {
        const r = await fresh();
        const tenant = await createTenant(t);
        const endpoint = await createEndpoint(t, tenant, { url: r.url, events: ["*"] });
        const rotated = await asKey(t, tenant)("POST", `/v1/webhook_endpoints/${endpoint.id}/rotate_secret`);
        assert.equal(rotated.statusCode, 200, rotated.body);
        const { secret: newSecret, previous_secret_expires_at } = rotated.json();
        assert.ok(Math.abs(Date.parse(previous_secret_expires_at) - t.clock.now().getTime() - 86_400_000) < 5_000);

        await emit(t, tenant.entityId, "connector.updated", { id: "c" });
        await t.services.jobs.runDueJobs();
        const during = r.hooks()[0]!;
        const header = String(during.headers["arcus-signature"]);
        assert.equal(v1Count(header), 2);
        assert.equal(verifyPatchbaySignature(header, during.body, endpoint.secret, clockSeconds(t)), true, "old secret verifies in the window");
        assert.equal(verifyPatchbaySignature(header, during.body, newSecret, clockSeconds(t)), true, "new secret verifies");

        t.clock.advance(86_400_000 + 1_000);
        await emit(t, tenant.entityId, "connector.updated", { id: "c" });
        await t.services.jobs.runDueJobs();
        const afterwards = r.hooks()[1]!;
        const header2 = String(afterwards.headers["arcus-signature"]);
        assert.equal(v1Count(header2), 1);
        assert.equal(verifyPatchbaySignature(header2, afterwards.body, endpoint.secret, clockSeconds(t)), false, "old secret no longer verifies");
        assert.equal(verifyPatchbaySignature(header2, afterwards.body, newSecret, clockSeconds(t)), true);
      });
    });

    describe("shop integrations receive Sendcloud's webhooks at webhook_url (the v3 webhooks spec)", () => {
      const INTEGRATION_FIELDS = [
        "id", "shop_name", "shop_url", "system", "failing_since", "last_fetch", "last_updated_at",
        "service_point_enabled", "service_point_carriers", "webhook_active", "webhook_url",
      ];

      it("the receiver's check reproduces the spec's own example signature", () => {
        // The spec's example: data {"key": "value"} (Python's json.dumps), key "secretkey".
        assert.equal(verifySendcloudSignature("1eed4b3d41f4653ac64fd56f1bf1cbfd349e4482cbc11dff7134bd93e5da4b0a", '{"key": "value"}', "secretkey"), true);
        assert.equal(verifySendcloudSignature("1eed4b3d41f4653ac64fd56f1bf1cbfd349e4482cbc11dff7134bd93e5da4b0a", '{"key":"value"}', "secretkey"), false);
      });

      it("{action, timestamp, integration} with the spec's action names and field names; Sendcloud-Signature with the webhook signature key; only when webhook_active", async () => {
        const r = await fresh();
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        assert.equal((await call("POST", "/v1/integrations/amazon", { seller_id: "S1" })).statusCode, 201);
        const row = await t.database.db.selectFrom("connectors").selectAll().where("entity_id", "=", tenant.entityId).executeTakeFirstOrThrow();
        const basic = { authorization: `Basic ${Buffer.from(`${tenant.publicKey}:${tenant.key}`).toString("base64")}` };
        const v3 = (method: "PATCH" | "DELETE", payload?: object) =>
          t.request({ method, url: `/api/v3/integrations/${row.shop_integration_id}`, ...(payload ? { payload } : {}), headers: basic });
        const shopHooks = () => r.requests.filter((q) => q.path === "/shop");

        // Not active: the v3 PATCH emits its event, but nothing goes to the integration.
        assert.equal((await v3("PATCH", { shop_name: "Before the webhook" })).statusCode, 204);
        await t.services.jobs.runDueJobs();
        assert.equal(await count(t, "webhook_deliveries", sql`connector_id = ${row.id}`), 0);

        // The PATCH that switches the webhook on is itself delivered there: integration_updated, unsigned (no key yet).
        assert.equal((await v3("PATCH", { webhook_active: true, webhook_url: r.shopUrl })).statusCode, 204);
        await t.services.jobs.runDueJobs();
        assert.equal(shopHooks().length, 1);
        const first = shopHooks()[0]!;
        const body = JSON.parse(first.body);
        assert.deepEqual(Object.keys(body), ["action", "timestamp", "integration"]);
        assert.equal(body.action, "integration_updated");
        const event = await t.database.db.selectFrom("events").select("created_at").where("entity_id", "=", tenant.entityId).where("type", "=", "shop_integration.updated").orderBy("created_at", "desc").executeTakeFirstOrThrow();
        assert.equal(body.timestamp, event.created_at.getTime(), "Unix milliseconds of the event, as the spec's example");
        assert.ok(Number.isInteger(body.timestamp));
        assert.deepEqual(Object.keys(body.integration), INTEGRATION_FIELDS);
        assert.equal(body.integration.id, row.shop_integration_id);
        assert.equal(body.integration.system, "amazon");
        assert.equal(body.integration.shop_name, "Before the webhook");
        assert.equal(body.integration.webhook_active, true);
        assert.equal(body.integration.webhook_url, r.shopUrl);
        assert.equal(first.headers["sendcloud-signature"], undefined, "no key, no signature");
        assert.equal(first.headers["patchbay-signature"], undefined, "never Patchbay's header");

        // With a webhook signature key stored, every delivery is signed; /v1 changes are integration_updated too.
        const key = "whsec_shop_integration_secret_0123456789";
        assert.equal((await call("PUT", "/v1/integrations/amazon/webhook-secret", { webhook_secret: key })).statusCode, 200);
        await t.services.jobs.runDueJobs();
        assert.equal((await v3("PATCH", { shop_name: "Signed now" })).statusCode, 204);
        await t.services.jobs.runDueJobs();
        assert.equal(shopHooks().length, 3);
        for (const h of shopHooks().slice(1)) {
          assert.equal(verifySendcloudSignature(h.headers["sendcloud-signature"], h.body, key), true, h.body);
          assert.equal(verifySendcloudSignature(h.headers["sendcloud-signature"], h.body, "another key"), false);
          assert.equal(JSON.parse(h.body).action, "integration_updated");
        }
        assert.equal(JSON.parse(shopHooks()[2]!.body).integration.shop_name, "Signed now");
        assert.ok(!shopHooks().some((h) => h.body.includes(key)), "the key is never in a body");

        // DELETE: integration_deleted reaches the integration that was just disconnected; a re-POST restores it: integration_connected.
        assert.equal((await v3("DELETE")).statusCode, 204);
        await t.services.jobs.runDueJobs();
        assert.equal(JSON.parse(shopHooks()[3]!.body).action, "integration_deleted");
        assert.equal(verifySendcloudSignature(shopHooks()[3]!.headers["sendcloud-signature"], shopHooks()[3]!.body, key), true);
        assert.equal((await call("POST", "/v1/integrations/amazon", { seller_id: "S1" })).statusCode, 200, "restored");
        await t.services.jobs.runDueJobs();
        assert.equal(shopHooks().length, 5);
        assert.equal(JSON.parse(shopHooks()[4]!.body).action, "integration_connected");
        assert.equal(JSON.parse(shopHooks()[4]!.body).integration.id, row.shop_integration_id, "the same integration");

        // An event with no Sendcloud action (connection.*) never goes there.
        await emit(t, tenant.entityId, "connection.activated", { id: row.id });
        await t.services.jobs.runDueJobs();
        assert.equal(shopHooks().length, 5);
      });

      it("a failed delivery is retried on the spec's schedule (5, 10, 20, 40, then 60 minutes; 10 retries), then failed and written to the exception log", async () => {
        const r = await fresh([500]);
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        assert.equal((await call("POST", "/v1/integrations/amazon", { seller_id: "S1" })).statusCode, 201);
        const row = await t.database.db.selectFrom("connectors").selectAll().where("entity_id", "=", tenant.entityId).executeTakeFirstOrThrow();
        const basic = { authorization: `Basic ${Buffer.from(`${tenant.publicKey}:${tenant.key}`).toString("base64")}` };
        const patch = await t.request({ method: "PATCH", url: `/api/v3/integrations/${row.shop_integration_id}`, payload: { webhook_active: true, webhook_url: r.url }, headers: basic });
        assert.equal(patch.statusCode, 204);
        const delivery = async () => t.database.db.selectFrom("webhook_deliveries").selectAll().where("connector_id", "=", row.id).executeTakeFirstOrThrow();
        const job = await t.database.db.selectFrom("jobs").selectAll().where("name", "=", "webhook.deliver").where(sql<boolean>`payload->>'delivery_id' = ${(await delivery()).id}`).executeTakeFirstOrThrow();
        assert.equal(job.max_attempts, 11);

        const waits: number[] = [];
        await t.services.jobs.runDueJobs();
        for (let i = 0; i < 10; i++) {
          const d = await delivery();
          assert.equal(d.status, "pending");
          const wait = d.next_attempt_at!.getTime() - t.clock.now().getTime();
          waits.push(Math.round(wait / 60_000));
          t.clock.advance(wait - 5_000);
          await t.services.jobs.runDueJobs();
          assert.equal(r.hooks().length, i + 1, "not before its time");
          t.clock.advance(10_000);
          await t.services.jobs.runDueJobs();
        }
        assert.deepEqual(waits, [5, 10, 20, 40, 60, 60, 60, 60, 60, 60]);
        assert.equal(r.hooks().length, 11);
        const d = await delivery();
        assert.equal(d.status, "failed");
        assert.equal(d.attempt_count, 11);

        const logs = await t.request({ method: "GET", url: `/api/v3/integrations/${row.shop_integration_id}/logs`, headers: basic });
        assert.equal(logs.statusCode, 200, logs.body);
        const [entry] = logs.json().data;
        assert.equal(entry.exception_type, "patchbay.webhook.failed");
        assert.equal(entry.response_code, 500);
        assert.equal(entry.full_url, r.url);
        assert.equal(entry.request.payload.action, "integration_updated");
      });
    });

    describe("no secret leaves in a delivery, a response, a log line or the idempotency store", () => {
      it("a planted credential and the signing secret are nowhere but sealed", async () => {
        const r = await fresh();
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const PLANTED = `sk_live_PLANTED${Date.now()}x9q`;
        assert.equal((await call("POST", "/v1/integrations/stripe", {}, { "idempotency-key": "leak-1" })).statusCode, 201);
        assert.equal((await call("PUT", "/v1/integrations/stripe/credentials", { secret_key: PLANTED }, { "idempotency-key": "leak-2" })).statusCode, 200);
        const created = await call("POST", "/v1/webhook_endpoints", { url: r.url, events: ["*"] }, { "idempotency-key": "leak-3" });
        const endpoint = created.json();
        const rotated = (await call("POST", `/v1/webhook_endpoints/${endpoint.id}/rotate_secret`, undefined, { "idempotency-key": "leak-4" })).json();
        const secrets = [PLANTED, endpoint.secret as string, rotated.secret as string];

        // What the connector service emits for it, and an event from a real HTTP write.
        const row = await t.database.db.selectFrom("connectors").selectAll().where("entity_id", "=", tenant.entityId).executeTakeFirstOrThrow();
        await emit(t, tenant.entityId, "connector.updated", toConnectorRow(row, t.config.publicUrl));
        const connection = await createConnection(t, tenant);
        const token = await mintToken(t, tenant, connection.connection_id, "access");
        const disconnect = await asConnectionsKey(t, tenant)("PATCH", `/connections/${connection.connection_id}`, { status: "disconnected" }, { token });
        assert.equal(disconnect.statusCode, 200, disconnect.body);
        await t.services.jobs.runDueJobs();
        assert.equal(r.hooks().length, 2);
        assert.ok(r.hooks().some((q) => JSON.parse(q.body).data.object?.has_credentials_secret_arn === true), "control: the connector event went out");

        const delivered = r.hooks().map((q) => JSON.stringify(q.headers) + q.body);
        const responses = t.responses.filter((res) => !res.includes('"secret":"whsec_'));
        await call("GET", `/v1/webhook_endpoints/${endpoint.id}/deliveries`);
        await call("GET", `/v1/webhook_endpoints/${endpoint.id}`);
        const { rows: idem } = await sql<Record<string, unknown>>`select * from idempotency_keys`.execute(t.database.db);
        const idemDump = JSON.stringify(idem.map((x) => ({ ...x, response_body: x.response_body ? Buffer.from(x.response_body as Buffer).toString("utf8") : null })));
        const { rows: jobs } = await sql`select * from jobs`.execute(t.database.db);
        const { rows: deliveries } = await sql`select * from webhook_deliveries`.execute(t.database.db);
        const { rows: events } = await sql`select * from events`.execute(t.database.db);
        assert.ok(idemDump.includes(endpoint.id), "control: the idempotency dump holds the stored answers");
        for (const secret of secrets) {
          assert.deepEqual(delivered.filter((d) => d.includes(secret)), [], "a delivery carries a secret");
          assert.deepEqual([...responses, ...t.responses.slice(-2)].filter((x) => x.includes(secret)), [], "a response carries a secret");
          assert.deepEqual(t.logs.filter((l) => l.includes(secret)), [], "a log line carries a secret");
          assert.ok(!idemDump.includes(secret), "the idempotency store holds a secret");
          assert.ok(!JSON.stringify([jobs, deliveries, events]).includes(secret), "a job, delivery or event row holds a secret");
        }
      });
    });

    describe("in real time, with the worker running", () => {
      it("an event emitted by an HTTP write reaches the receiver in under 2 s", async () => {
        const r = await fresh();
        const tenant: Tenant = await createTenant(t);
        await createEndpoint(t, tenant, { url: r.url, events: ["connection.disconnected"] });
        const connection = await createConnection(t, tenant);
        const token = await mintToken(t, tenant, connection.connection_id, "access");
        t.services.jobs.start();
        try {
          // A running server's worker: past its start-up round of recurring jobs.
          await new Promise((resolve) => setTimeout(resolve, 1_000));
          const started = performance.now();
          const res = await asConnectionsKey(t, tenant)("PATCH", `/connections/${connection.connection_id}`, { status: "disconnected" }, { token });
          assert.equal(res.statusCode, 200, res.body);
          while (r.hooks().length === 0 && performance.now() - started < 5_000) await new Promise((resolve) => setTimeout(resolve, 10));
          const ms = performance.now() - started;
          assert.equal(r.hooks().length, 1, "delivered");
          assert.ok(ms < 2_000, `delivered after ${Math.round(ms)} ms`);
          process.stdout.write(`# delivered ${Math.round(ms)} ms after the write\n`);
          assert.equal(JSON.parse(r.hooks()[0]!.body).type, "connection.disconnected");
        } finally {
          await t.services.jobs.stop();
        }
      });
    });
  });

  describe(`[${kind}] the address is checked again at delivery (DNS rebinding)`, () => {
    let t: TestApp;
    let receiver: Receiver;
    const dns: Record<string, string> = { "hooks.example.com": "93.184.216.34" };
    before(async () => {
      receiver = await startReceiver();
      t = await startTestApp(kind, {
        resolveHost: async (host) => {
          const address = dns[host];
          if (!address) throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
          return [{ address, family: 4 }];
        },
      });
    });
    after(async () => {
      await t.close();
      await receiver.close();
    });

    it("a host that resolved to a public address at creation and to loopback at delivery is refused, and the try logged", async () => {
      const tenant = await createTenant(t);
      const port = new URL(receiver.url).port;
      const endpoint = await createEndpoint(t, tenant, { url: `https://hooks.example.com:${port}/hook`, events: ["*"] });
      dns["hooks.example.com"] = "127.0.0.1";
      await emit(t, tenant.entityId, "connector.updated", { id: "c" });
      await t.services.jobs.runDueJobs();
      assert.equal(receiver.requests.length, 0, "nothing reached the loopback receiver");
      const [d] = await deliveriesOf(t, tenant, endpoint.id);
      assert.equal(d!.status, "pending");
      assert.equal(d!.attempts[0].status_code, null);
      assert.match(d!.attempts[0].error, /^address refused/);
    });
  });
}

for (const kind of DB_KINDS) {
  describe(`[${kind}] a receiver that does not answer within PATCHBAY_WEBHOOK_TIMEOUT_MS`, () => {
    it("is a failed try (no status code, a short error), retried later", async () => {
      const slow = await startFakeProvider({ "POST /slow": () => ({ status: 200, delayMs: 2_000 }) });
      const t = await startTestApp(kind, { env: { PATCHBAY_WEBHOOK_ALLOW_PRIVATE: "true", PATCHBAY_WEBHOOK_TIMEOUT_MS: "300" } });
      try {
        const tenant = await createTenant(t);
        const endpoint = await createEndpoint(t, tenant, { url: `${slow.url}/slow`, events: ["*"] });
        await emit(t, tenant.entityId, "connector.updated", { id: "c" });
        await t.services.jobs.runDueJobs();
        const [d] = await deliveriesOf(t, tenant, endpoint.id);
        assert.equal(d!.status, "pending");
        assert.equal(d!.attempts[0].status_code, null);
        assert.equal(d!.attempts[0].error, "no answer within 0.3 s");
        assert.ok(d!.attempts[0].latency_ms < 1_500, `gave up after ${d!.attempts[0].latency_ms} ms`);
      } finally {
        await t.close();
        await slow.close();
      }
    });
  });
}
