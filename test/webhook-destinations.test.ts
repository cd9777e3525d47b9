import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, describe, it } from "node:test";
import { DEMO_LOGINS, DEMO_PASSWORD, startDemoRetailerGateway } from "../src/demo/retailer-gateway.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { ManualClock } from "./helpers/clock.ts";
import { asConnectionsKey, assertDetailString, connectionsSurface, mintToken, ULID_RE, WALMART } from "./helpers/connections.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { addKey, createTenant, type Tenant } from "./helpers/fixtures.ts";
import { openLinkPage, submitLinkForm } from "./helpers/link-page.ts";
import { runSecurityBattery, type SurfaceAuth } from "./helpers/security-battery.ts";
import { createEndpoint, startReceiver, type Receiver } from "./helpers/webhooks.ts";

/**
 * A receiver's check, written from docs.subtotal.com webhooks/verifying-signatures
 * (not with Patchbay's code): signed_payload = timestamp + "." + raw body;
 * expected = HMAC-SHA256(signing_secret, signed_payload); compare in constant
 * time; reject timestamps outside a tolerance window.
 */
function verifySubtotalRequest(headers: Record<string, unknown>, rawBody: string, signingSecret: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const signature = headers["x-subtotal-signature"];
  const timestamp = headers["x-subtotal-timestamp"];
  if (typeof signature !== "string" || typeof timestamp !== "string") return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return false;
  const signedPayload = timestamp + "." + rawBody;
  const expected = crypto.createHmac("sha256", signingSecret).update(signedPayload, "utf8").digest("hex");
  const a = Buffer.from(expected, "utf8");
  const b = Buffer.from(signature, "utf8");
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** The connection.activated example of docs.subtotal.com webhooks/events, as printed there. */
const REFERENCE_ACTIVATED_EXAMPLE = {
  type: "connection.activated",
  id: "01KFJSR44CPH867805V8GJ9VCY",
  payload: { connection: { connection_id: "01K8BPF23CCZ2FK50STB8EGWAV", customer_id: "01K8BPF2393S9VB6JQT99GK447", retailer_id: "target", email: null, mobile: null, status: "active" } },
};

const DESTINATION_FIELDS = ["accepts_simulated_events", "created_at", "destination_id", "events", "name", "updated_at", "url"];
const ALL_TYPES = ["connection.activated", "connection.unauthenticated", "connection.disconnected", "connection.deleted", "purchase.created"];

const webhooksSurface: SurfaceAuth = {
  ...connectionsSurface,
  assertForbidden: (body, code) => {
    const detail = assertDetailString(body);
    if (code === "insufficient_scope") assert.match(detail, /lacks the "webhooks:manage" scope/);
    if (code === "live_mode_forbidden") assert.match(detail, /test key/);
  },
  assertNotFound: (body) => assert.match(assertDetailString(body), /No webhook destination with id/),
};

for (const kind of DB_KINDS) {
  describe(`[${kind}] Subtotal webhook destinations (/webhooks)`, () => {
    let t: TestApp;
    let receiver: Receiver;
    let gateway: Awaited<ReturnType<typeof startDemoRetailerGateway>>;
    const clock = new ManualClock("2025-06-01T12:00:00Z");
    before(async () => {
      gateway = await startDemoRetailerGateway({ port: 0, now: () => new Date(clock.now().getTime()) });
      receiver = await startReceiver([200]);
      t = await startTestApp(kind, { clock, env: { PATCHBAY_WEBHOOK_ALLOW_PRIVATE: "true", PATCHBAY_PROVIDER_URL_RETAILERS: gateway.url } });
    });
    after(async () => {
      await t.close();
      await receiver.close();
      await gateway.close();
    });

    const api = (tenant: Tenant) => asConnectionsKey(t, tenant);
    const seconds = () => Math.floor(clock.now().getTime() / 1000);
    async function addDestination(tenant: Tenant, body: Record<string, unknown>) {
      const res = await api(tenant)("POST", "/webhooks", { name: "Production", url: receiver.url, events: ALL_TYPES, ...body });
      assert.equal(res.statusCode, 201, res.body);
      return res.json() as Record<string, any> & { destination_id: string; signing_secret: string };
    }
    /** The requests that reached the receiver for this destination (each gets its own ?d= query). */
    const hooksFor = (tag: string) => receiver.hooks().filter((r) => r.query.get("d") === tag);

    async function linkedConnection(tenant: Tenant, username: string = DEMO_LOGINS.good) {
      const created = await api(tenant)("POST", "/connections", { customer_id: "cust-1", retailer_id: "walmart" });
      assert.equal(created.statusCode, 201, created.body);
      const id = created.json().connection_id as string;
      const page = await openLinkPage(t, await mintToken(t, tenant, id, "link"));
      const done = await submitLinkForm(t, page, { username, password: DEMO_PASSWORD });
      assert.equal(done.statusCode, 200, done.body);
      return id;
    }

    describe("a destination: name, url, enabled events, signing secret shown once, accepts simulated events", () => {
      it("POST → 201 with every field and a signing secret; GET, list and PATCH never show the secret", async () => {
        const tenant = await createTenant(t);
        const created = await addDestination(tenant, { name: "  Prod  ", events: ["connection.activated", "purchase.created", "purchase.created"] });
        assert.deepEqual(Object.keys(created).sort(), [...DESTINATION_FIELDS, "signing_secret"].sort());
        assert.match(created.destination_id, ULID_RE);
        assert.equal(created.name, "Prod");
        assert.equal(created.url, receiver.url);
        assert.deepEqual(created.events, ["connection.activated", "purchase.created"], "each event once");
        assert.equal(created.accepts_simulated_events, false, "off unless asked for");
        assert.match(created.signing_secret, /^whsec_[0-9a-f]{64}$/);
        assert.ok(Math.abs(Date.parse(created.created_at) - clock.now().getTime()) < 1000, "RFC 3339, the server's clock");

        const got = await api(tenant)("GET", `/webhooks/${created.destination_id}`);
        assert.equal(got.statusCode, 200, got.body);
        assert.deepEqual(Object.keys(got.json()).sort(), DESTINATION_FIELDS);
        const list = await api(tenant)("GET", "/webhooks");
        assert.deepEqual(list.json(), { webhooks: [got.json()] });

        clock.advance(1000);
        const patched = await api(tenant)("PATCH", `/webhooks/${created.destination_id}`, { name: "Staging", events: ["connection.deleted"], accepts_simulated_events: true });
        assert.equal(patched.statusCode, 200, patched.body);
        assert.deepEqual(Object.keys(patched.json()).sort(), DESTINATION_FIELDS);
        assert.equal(patched.json().name, "Staging");
        assert.deepEqual(patched.json().events, ["connection.deleted"]);
        assert.equal(patched.json().accepts_simulated_events, true);
        assert.equal(patched.json().url, receiver.url, "untouched fields stay");
        assert.notEqual(patched.json().updated_at, created.updated_at);

        for (const res of [got, list, patched]) assert.ok(!res.body.includes(created.signing_secret));
      });

      it("DELETE → 204; then 404; the list no longer has it", async () => {
        const tenant = await createTenant(t);
        const d = await addDestination(tenant, {});
        const del = await api(tenant)("DELETE", `/webhooks/${d.destination_id}`);
        assert.equal(del.statusCode, 204, del.body);
        assert.equal(del.body, "");
        const again = await api(tenant)("GET", `/webhooks/${d.destination_id}`);
        assert.equal(again.statusCode, 404);
        assert.match(assertDetailString(again.json()), /No webhook destination with id/);
        assert.deepEqual((await api(tenant)("GET", "/webhooks")).json(), { webhooks: [] });
      });

      it("bad input → 422 {detail:[{loc,msg,type}]}: missing fields, unknown or no events, extra fields, a bad id, a bad url", async () => {
        const tenant = await createTenant(t);
        const cases: [unknown, (string | number)[], string][] = [
          [{ url: receiver.url, events: ALL_TYPES }, ["body", "name"], "missing"],
          [{ name: "x", events: ALL_TYPES }, ["body", "url"], "missing"],
          [{ name: "x", url: receiver.url }, ["body", "events"], "missing"],
          [{ name: "x", url: receiver.url, events: [] }, ["body", "events"], "value_error"],
          [{ name: "x", url: receiver.url, events: ["connector.connected"] }, ["body", "events", 0], "enum"],
          [{ name: "x", url: receiver.url, events: ALL_TYPES, secret: "mine" }, ["body", "secret"], "extra_forbidden"],
          [{ name: "", url: receiver.url, events: ALL_TYPES }, ["body", "name"], "string_too_short"],
          [{ name: "x".repeat(101), url: receiver.url, events: ALL_TYPES }, ["body", "name"], "string_too_long"],
          [{ name: "x", url: receiver.url, events: ALL_TYPES, accepts_simulated_events: "yes" }, ["body", "accepts_simulated_events"], "boolean_type"],
        ];
        for (const [body, loc, type] of cases) {
          const res = await api(tenant)("POST", "/webhooks", body);
          assert.equal(res.statusCode, 422, `${JSON.stringify(body)}: ${res.body}`);
          const detail = res.json().detail as { loc: unknown[]; type: string }[];
          assert.ok(detail.some((d) => JSON.stringify(d.loc) === JSON.stringify(loc) && d.type.includes(type)), `${JSON.stringify(body)}: ${res.body}`);
        }
        const badUrl = await api(tenant)("POST", "/webhooks", { name: "x", url: "ftp://example.com/hook", events: ALL_TYPES });
        assert.equal(badUrl.statusCode, 422, badUrl.body);
        assert.deepEqual(badUrl.json().detail[0].loc, ["body", "url"]);
        const blank = await api(tenant)("POST", "/webhooks", { name: "   ", url: receiver.url, events: ALL_TYPES });
        assert.equal(blank.statusCode, 422, blank.body);
        const badId = await api(tenant)("GET", "/webhooks/not-a-ulid");
        assert.equal(badId.statusCode, 422, badId.body);
        assert.deepEqual(badId.json().detail[0].loc, ["path", "destination_id"]);
        assert.deepEqual((await api(tenant)("GET", "/webhooks")).json(), { webhooks: [] }, "nothing half-written");
      });

      it("an Idempotency-Key on POST: the retry answers the same destination, without its secret, and makes no second one", async () => {
        const tenant = await createTenant(t);
        const headers = { "idempotency-key": "dest-create-1" };
        const body = { name: "Once", url: receiver.url, events: ["connection.activated"] };
        const first = await api(tenant)("POST", "/webhooks", body, { headers });
        assert.equal(first.statusCode, 201, first.body);
        const replay = await api(tenant)("POST", "/webhooks", body, { headers });
        assert.equal(replay.statusCode, 201, replay.body);
        assert.equal(replay.json().destination_id, first.json().destination_id);
        assert.equal(replay.json().signing_secret, undefined, "the secret is not kept for replay");
        assert.ok(!replay.body.includes(first.json().signing_secret));
        assert.equal((await api(tenant)("GET", "/webhooks")).json().webhooks.length, 1);
        const stored = await t.database.db.selectFrom("idempotency_keys").select("response_body").execute();
        assert.ok(stored.every((r) => !String(r.response_body ?? "").includes(first.json().signing_secret)), "not in the idempotency store");
        const other = await api(tenant)("POST", "/webhooks", { ...body, name: "Other" }, { headers });
        assert.equal(other.statusCode, 409, other.body);
      });
    });

    describe("deliveries: {type, id, payload}, X-Subtotal-Signature over timestamp.body, from the one outbox", () => {
      it("linking a connection: connection.activated reaches the destination (Subtotal body, verifiable) and the /v1 endpoint (Arcus envelope) from one event", async () => {
        const tenant = await createTenant(t);
        const d = await addDestination(tenant, { url: `${receiver.url}?d=act`, events: ["connection.activated"] });
        const v1 = await createEndpoint(t, tenant, { url: `${receiver.url}?d=v1act`, events: ["connection.activated"] });
        const id = await linkedConnection(tenant);
        await t.services.jobs.runDueJobs();

        const [hook] = hooksFor("act");
        assert.ok(hook, "delivered to the destination");
        assert.equal(verifySubtotalRequest(hook.headers as Record<string, unknown>, hook.body, d.signing_secret, seconds()), true, "the reference's check passes");
        assert.equal(verifySubtotalRequest(hook.headers as Record<string, unknown>, hook.body + " ", d.signing_secret, seconds()), false, "a changed body fails");
        assert.equal(verifySubtotalRequest(hook.headers as Record<string, unknown>, hook.body, "whsec_other", seconds()), false, "another secret fails");
        assert.equal(verifySubtotalRequest(hook.headers as Record<string, unknown>, hook.body, d.signing_secret, seconds() + 301), false, "outside the tolerance fails");
        assert.equal(hook.headers["x-subtotal-timestamp"], String(seconds()));
        assert.equal(hook.headers["content-type"], "application/json");

        // Field by field against the reference's example.
        const body = JSON.parse(hook.body);
        assert.deepEqual(Object.keys(body), Object.keys(REFERENCE_ACTIVATED_EXAMPLE));
        assert.equal(body.type, REFERENCE_ACTIVATED_EXAMPLE.type);
        assert.match(body.id, ULID_RE);
        assert.equal(body.id.length, REFERENCE_ACTIVATED_EXAMPLE.id.length);
        assert.deepEqual(Object.keys(body.payload), Object.keys(REFERENCE_ACTIVATED_EXAMPLE.payload));
        assert.deepEqual(Object.keys(body.payload.connection).sort(), Object.keys(REFERENCE_ACTIVATED_EXAMPLE.payload.connection).sort());
        assert.deepEqual(body.payload.connection, { connection_id: id, customer_id: "cust-1", retailer_id: WALMART, email: null, mobile: null, status: "active" });

        const [v1hook] = hooksFor("v1act");
        assert.ok(v1hook, "the /v1 endpoint keeps receiving the same event");
        const envelope = JSON.parse(v1hook.body);
        assert.deepEqual(Object.keys(envelope).sort(), ["api_version", "created_at", "data", "entity_id", "id", "livemode", "object", "type"]);
        assert.deepEqual(envelope.data.object, body.payload.connection);
        const events = await t.database.db.selectFrom("events").select("id").where("entity_id", "=", tenant.entityId).where("type", "=", "connection.activated").execute();
        assert.equal(events.length, 1, "one outbox event feeds both");
        assert.ok(v1.id);
      });

      it("purchase.created, connection.unauthenticated, connection.disconnected and connection.deleted each reach destinations that enabled them, and only those", async () => {
        const tenant = await createTenant(t);
        const all = await addDestination(tenant, { url: `${receiver.url}?d=all`, events: ALL_TYPES });
        await addDestination(tenant, { url: `${receiver.url}?d=deleted-only`, events: ["connection.deleted"] });
        const id = await linkedConnection(tenant);
        await t.services.jobs.runDueJobs(); // the first sync: purchases
        const sim = await api(tenant)("PATCH", `/simulated-connections/${id}`, { status: "unauthenticated" });
        assert.equal(sim.statusCode, 200, sim.body);
        await t.services.jobs.runDueJobs();
        const id2 = await linkedConnection(tenant);
        const access2 = await mintToken(t, tenant, id2, "access");
        const off = await api(tenant)("PATCH", `/connections/${id2}`, { status: "disconnected" }, { token: access2 });
        assert.equal(off.statusCode, 200, off.body);
        const id3 = await linkedConnection(tenant);
        const del = await api(tenant)("DELETE", `/connections/${id3}`, undefined, { token: await mintToken(t, tenant, id3, "access") });
        assert.equal(del.statusCode, 204, del.body);
        await t.services.jobs.runDueJobs();

        const received = hooksFor("all").map((h) => ({ h, body: JSON.parse(h.body) }));
        for (const { h } of received) assert.equal(verifySubtotalRequest(h.headers as Record<string, unknown>, h.body, all.signing_secret, seconds()), true);
        const types = new Set(received.map((r) => r.body.type));
        for (const type of ALL_TYPES) assert.ok(types.has(type), `${type} delivered`);
        for (const { body } of received) {
          assert.deepEqual(Object.keys(body), ["type", "id", "payload"]);
          assert.deepEqual(Object.keys(body.payload.connection).sort(), ["connection_id", "customer_id", "email", "mobile", "retailer_id", "status"]);
        }
        const unauth = received.find((r) => r.body.type === "connection.unauthenticated")!.body;
        assert.equal(unauth.payload.connection.connection_id, id);
        assert.equal(unauth.payload.connection.status, "unauthenticated");
        assert.equal(received.find((r) => r.body.type === "connection.disconnected")!.body.payload.connection.connection_id, id2);
        assert.equal(received.find((r) => r.body.type === "connection.deleted")!.body.payload.connection.connection_id, id3);
        const purchase = received.find((r) => r.body.type === "purchase.created")!.body;
        assert.equal(purchase.payload.connection.connection_id, id);
        assert.match(purchase.payload.purchase.purchase_id, ULID_RE);
        for (const f of ["date", "total", "tax", "subtotal", "item_count", "items"]) assert.ok(f in purchase.payload.purchase, f);

        const only = hooksFor("deleted-only").map((h) => JSON.parse(h.body).type);
        assert.deepEqual(only, ["connection.deleted"]);
      });

      it("a deleted destination gets nothing more; another entity's destinations get nothing", async () => {
        const tenant = await createTenant(t);
        const stranger = await createTenant(t);
        await addDestination(stranger, { url: `${receiver.url}?d=stranger` });
        const d = await addDestination(tenant, { url: `${receiver.url}?d=gone` });
        assert.equal((await api(tenant)("DELETE", `/webhooks/${d.destination_id}`)).statusCode, 204);
        await linkedConnection(tenant);
        await t.services.jobs.runDueJobs();
        assert.equal(hooksFor("gone").length, 0);
        assert.equal(hooksFor("stranger").length, 0);
      });
    });

    describe("POST /webhooks/simulate: a simulated event of each type, to the destinations that accept them", () => {
      it("sends each type to accepting destinations that enabled it; none to others or to /v1 endpoints; writes no connection", async () => {
        const tenant = await createTenant(t);
        const yes = await addDestination(tenant, { url: `${receiver.url}?d=sim-yes`, accepts_simulated_events: true });
        await addDestination(tenant, { url: `${receiver.url}?d=sim-no`, accepts_simulated_events: false });
        await addDestination(tenant, { url: `${receiver.url}?d=sim-some`, accepts_simulated_events: true, events: ["purchase.created"] });
        await createEndpoint(t, tenant, { url: `${receiver.url}?d=sim-v1`, events: ["*"] });
        const res = await api(tenant)("POST", "/webhooks/simulate", {});
        assert.equal(res.statusCode, 202, res.body);
        assert.deepEqual(res.json().events.map((e: { type: string }) => e.type), ALL_TYPES);
        await t.services.jobs.runDueJobs();

        const got = hooksFor("sim-yes");
        assert.deepEqual(got.map((h) => JSON.parse(h.body).type).sort(), [...ALL_TYPES].sort());
        for (const h of got) {
          assert.equal(verifySubtotalRequest(h.headers as Record<string, unknown>, h.body, yes.signing_secret, seconds()), true);
          const body = JSON.parse(h.body);
          assert.ok(res.json().events.some((e: { id: string }) => e.id === body.id), "the answer names the delivered ids");
          assert.deepEqual(Object.keys(body.payload.connection).sort(), ["connection_id", "customer_id", "email", "mobile", "retailer_id", "status"]);
        }
        assert.deepEqual(hooksFor("sim-some").map((h) => JSON.parse(h.body).type), ["purchase.created"]);
        assert.equal(hooksFor("sim-no").length, 0);
        assert.equal(hooksFor("sim-v1").length, 0);
        assert.deepEqual((await api(tenant)("GET", "/connections?customer_id=simulated-customer")).json(), { connections: [] });
      });

      it("events narrows it to the types asked for; an unknown type → 422", async () => {
        const tenant = await createTenant(t);
        await addDestination(tenant, { url: `${receiver.url}?d=sim-narrow`, accepts_simulated_events: true });
        const res = await api(tenant)("POST", "/webhooks/simulate", { events: ["connection.unauthenticated"] });
        assert.equal(res.statusCode, 202, res.body);
        await t.services.jobs.runDueJobs();
        assert.deepEqual(hooksFor("sim-narrow").map((h) => JSON.parse(h.body).type), ["connection.unauthenticated"]);
        const bad = await api(tenant)("POST", "/webhooks/simulate", { events: ["connector.updated"] });
        assert.equal(bad.statusCode, 422, bad.body);
      });
    });

    it("a test key may not manage destinations (they receive live events) → 403", async () => {
      const tenant = await createTenant(t);
      const testKey = await addKey(t, tenant.entityId, { mode: "test" });
      const res = await api(testKey)("POST", "/webhooks", { name: "x", url: receiver.url, events: ALL_TYPES });
      assert.equal(res.statusCode, 403, res.body);
    });

    it("the signing secret appears in no later response, log line, audit entry or stored event", async () => {
      const tenant = await createTenant(t);
      const d = await addDestination(tenant, { url: `${receiver.url}?d=leak`, accepts_simulated_events: true });
      const before = t.responses.length;
      await api(tenant)("GET", "/webhooks");
      await api(tenant)("GET", `/webhooks/${d.destination_id}`);
      await api(tenant)("PATCH", `/webhooks/${d.destination_id}`, { name: "Renamed" });
      await api(tenant)("POST", "/webhooks/simulate", {});
      await linkedConnection(tenant);
      await t.services.jobs.runDueJobs();
      assert.ok(hooksFor("leak").length > 0);
      const later = t.responses.slice(before).join("\n");
      assert.ok(!later.includes(d.signing_secret), "no later response");
      assert.ok(!t.logs.join("\n").includes(d.signing_secret), "no log line");
      for (const h of hooksFor("leak")) assert.ok(!h.body.includes(d.signing_secret), "not in a delivery body");
      const audit = await t.database.db.selectFrom("audit_events").selectAll().where("entity_id", "=", tenant.entityId).execute();
      assert.ok(!JSON.stringify(audit).includes(d.signing_secret), "no audit entry");
      const events = await t.database.db.selectFrom("events").select("data").where("entity_id", "=", tenant.entityId).execute();
      assert.ok(!JSON.stringify(events).includes(d.signing_secret), "no event");
      const vault = await t.database.db.selectFrom("vault_secrets").selectAll().execute();
      assert.ok(!JSON.stringify(vault).includes(d.signing_secret), "sealed, not in clear");
    });

    describe("security battery", () => {
      const setup = async (tt: TestApp, owner: Tenant) => {
        const res = await asConnectionsKey(tt, owner)("POST", "/webhooks", { name: "b", url: "http://127.0.0.1:9/hook", events: ALL_TYPES });
        assert.equal(res.statusCode, 201, res.body);
        return { id: res.json().destination_id as string };
      };
      const base = { surface: webhooksSurface, scope: "webhooks:manage" as const };
      runSecurityBattery("GET /webhooks", () => t, { ...base, method: "GET", url: () => "/webhooks" });
      runSecurityBattery("POST /webhooks", () => t, { ...base, method: "POST", url: () => "/webhooks", payload: { name: "b", url: "http://127.0.0.1:9/hook", events: ALL_TYPES } });
      runSecurityBattery("POST /webhooks/simulate", () => t, { ...base, method: "POST", url: () => "/webhooks/simulate", payload: {} });
      runSecurityBattery("GET /webhooks/{id}", () => t, { ...base, method: "GET", url: (c) => `/webhooks/${c.id}`, setup, setupLive: setup });
      runSecurityBattery("PATCH /webhooks/{id}", () => t, { ...base, method: "PATCH", url: (c) => `/webhooks/${c.id}`, payload: { name: "c" }, setup, setupLive: setup });
      runSecurityBattery("DELETE /webhooks/{id}", () => t, { ...base, method: "DELETE", url: (c) => `/webhooks/${c.id}`, setup, setupLive: setup });
    });
  });
}
