/**
 * Replays the request/response examples of the Arcus reference pages Patchbay's
 * /v1 and /admin/v1 follow (docs.arcuserp.com: concepts/errors,
 * concepts/rate-limits, concepts/pagination, concepts/webhooks,
 * guides/first-webhook, guides/error-handling, api-reference/webhooks/*) and
 * checks Patchbay's answers field by field.
 * The webhook receiver verifies Arcus-Signature with code written from the
 * guide's server.js, not with Patchbay's helper.
 */
import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { ManualClock } from "./helpers/clock.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { addKey, asKey, createTenant, type Tenant } from "./helpers/fixtures.ts";
import { emit, startReceiver, type Receiver } from "./helpers/webhooks.ts";

/** guides/first-webhook, step 1: split "t=…,v1=…", HMAC-SHA256 of "<t>.<raw body>" in hex, compare in constant time. */
function arcusGuideVerifies(signature: string, rawBody: string, secret: string): boolean {
  const [tPart, vPart] = signature.split(",");
  const timestamp = tPart!.replace("t=", "");
  const receivedSig = vPart!.replace("v1=", "");
  const expected = createHmac("sha256", secret).update(`${timestamp}.${rawBody}`).digest("hex");
  return expected.length === receivedSig.length && timingSafeEqual(Buffer.from(expected), Buffer.from(receivedSig));
}

/** The examples' keys must all be there with the example's type; `same` lists those whose values must be equal too. */
function assertLikeExample(actual: Record<string, unknown>, example: Record<string, unknown>, same: readonly string[], where: string): void {
  for (const [k, v] of Object.entries(example)) {
    assert.ok(k in actual, `${where}: ${k} missing`);
    if (v === null) assert.ok(actual[k] === null || typeof actual[k] === "string", `${where}: ${k}`);
    else assert.equal(typeof actual[k], typeof v, `${where}: ${k} is ${typeof actual[k]}, the example's is ${typeof v}`);
    if (same.includes(k)) assert.deepEqual(actual[k], v, `${where}: ${k}`);
  }
}

/** A key whose rate limit no replay reaches (the test clock stands still: every request falls in one second). */
async function roomyKey(t: TestApp): Promise<Tenant> {
  const entity = (await t.admin("POST", "/admin/v1/entities", { name: "Paging" })).json();
  const res = await t.admin("POST", `/admin/v1/entities/${entity.id}/api-keys`, { name: "paging", mode: "live", scopes: ["integrations:read", "integrations:write", "webhooks:manage", "audit:read"], rate_limit: { per_minute: 100_000, burst: 100_000 } });
  assert.equal(res.statusCode, 201, res.body);
  return { entityId: entity.id, keyId: res.json().id, key: res.json().key, publicKey: res.json().public_key, mode: "live" };
}

for (const kind of DB_KINDS) {
  describe(`[${kind}] the Arcus reference pages, replayed`, () => {
    let t: TestApp;
    let receiver: Receiver;
    before(async () => {
      t = await startTestApp(kind, { env: { PATCHBAY_WEBHOOK_ALLOW_PRIVATE: "true" }, clock: new ManualClock("2030-01-01T00:00:10.000Z") });
      receiver = await startReceiver([200]);
    });
    after(async () => {
      await receiver.close();
      await t.close();
    });

    describe("concepts/errors", () => {
      it("the envelope example: {error, code, type, hint, param, request_id} for a missing resource", async () => {
        const res = await asKey(t, await createTenant(t))("GET", "/v1/webhook_endpoints/3c90c3cc-0d44-4b50-8888-8dd25736052a");
        assert.equal(res.statusCode, 404);
        const example = { error: "not_found", code: "not_found", type: "not_found", hint: "The requested order does not exist or does not belong to this entity.", param: null, request_id: "req_01H..." };
        const body = res.json();
        assertLikeExample(body, example, ["type", "param"], "404");
        assert.equal(body.error, body.code, "error is the machine key, the same as code");
        assert.equal(body.code, "webhook_endpoint_not_found");
        assert.equal(body.request_id, res.headers["x-request-id"]);
        assert.deepEqual(Object.keys(body), ["error", "code", "type", "hint", "param", "request_id"]);
      });

      it("the error types table: each status in its category, the admin API alike", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const cases: Array<[Promise<{ statusCode: number; json(): Record<string, unknown> }>, number, string, string]> = [
          [call("POST", "/v1/webhook_endpoints", { url: 42 }), 400, "validation_error", "validation_failed"],
          [t.request({ method: "GET", url: "/v1/webhook_endpoints" }), 401, "permission_error", "missing_api_key"],
          [asKey(t, await addKey(t, tenant.entityId, { scopes: ["integrations:read"] }))("GET", "/v1/webhook_endpoints"), 403, "permission_error", "insufficient_scope"],
          [call("GET", "/v1/integrations/stripe"), 404, "not_found", "connector_not_found"],
          [t.request({ method: "GET", url: "/admin/v1/entities" }), 401, "permission_error", "missing_admin_token"],
          [t.admin("GET", "/admin/v1/entities/3c90c3cc-0d44-4b50-8888-8dd25736052a/api-keys"), 404, "not_found", ""],
        ];
        await call("POST", "/v1/integrations/openai");
        cases.push([call("POST", "/v1/integrations/openai"), 409, "conflict", "conflict"]);
        for (const [pending, status, type, code] of cases) {
          const res = await pending;
          const body = res.json();
          assert.equal(res.statusCode, status, JSON.stringify(body));
          assert.equal(body.type, type, JSON.stringify(body));
          assert.equal(body.error, body.code);
          if (code) assert.equal(body.code, code, JSON.stringify(body));
          assert.equal(typeof body.hint, "string");
          assert.equal(typeof body.request_id, "string");
        }
      });

      it("insufficient_scope carries required: <scope> (guides/error-handling)", async () => {
        const tenant = await createTenant(t, { scopes: ["integrations:read"] });
        const body = (await asKey(t, tenant)("GET", "/v1/webhook_endpoints")).json();
        assert.deepEqual([body.error, body.type, body.required], ["insufficient_scope", "permission_error", "webhooks:manage"]);
      });
    });

    describe("guides/error-handling", () => {
      it("401: a missing, invalid or revoked key; 409 idempotency_key_mismatch for a reused key with another body; 422 names the field in param and says why in hint", async () => {
        const tenant = await roomyKey(t);
        const call = asKey(t, tenant);
        const missing = await t.request({ method: "GET", url: "/v1/integrations" });
        assert.deepEqual([missing.statusCode, missing.json().code, missing.json().type], [401, "missing_api_key", "permission_error"]);
        const invalid = await asKey(t, { key: `ark_live_ent_${"0".repeat(40)}` })("GET", "/v1/integrations");
        assert.deepEqual([invalid.statusCode, invalid.json().code], [401, "invalid_api_key"]);
        const notBearer = await t.request({ method: "GET", url: "/v1/integrations", headers: { authorization: tenant.key } });
        assert.equal(notBearer.statusCode, 401, "the Authorization header must start with Bearer");

        const key = { "idempotency-key": `guide-${Date.now()}` };
        const first = await call("POST", "/v1/webhook_endpoints", { url: receiver.url, enabled_events: ["*"] }, key);
        assert.equal(first.statusCode, 201, first.body);
        const replay = await call("POST", "/v1/webhook_endpoints", { url: receiver.url, enabled_events: ["*"] }, key);
        assert.deepEqual([replay.statusCode, replay.json().id, replay.json().secret], [201, first.json().id, undefined], "the original answer, without the one-time secret");
        const mismatch = await call("POST", "/v1/webhook_endpoints", { url: receiver.url, enabled_events: ["connector.*"] }, key);
        assert.deepEqual([mismatch.statusCode, mismatch.json().code, mismatch.json().type], [409, "idempotency_key_mismatch", "conflict"]);

        const unprocessable = await call("POST", "/v1/integrations/stripe", { credentials: { secret_key: "sk_live_x" } });
        assert.equal(unprocessable.statusCode, 422, unprocessable.body);
        const body = unprocessable.json();
        assert.deepEqual([body.type, body.param, body.error], ["validation_error", "credentials", "forbidden_field"]);
        assert.ok(body.hint.length > 20, "hint explains why");
        assert.ok(!unprocessable.body.includes("sk_live_x"), "the secret is not echoed");
      });
    });

    describe("concepts/rate-limits", () => {
      it("every response has X-RateLimit-Limit/Remaining/Reset (a Unix timestamp); the 429 is the page's example with Retry-After", async () => {
        const call = asKey(t, await createTenant(t, { mode: "test" }));
        const answers = [];
        for (let i = 0; i < 11; i++) answers.push(await call("GET", "/v1/integrations/catalog"));
        const nowS = t.clock.now().getTime() / 1000;
        assert.equal(answers[0]!.headers["x-ratelimit-limit"], "60", "test mode keys: 60 a minute");
        assert.equal(Number(answers[0]!.headers["x-ratelimit-reset"]), Math.floor(nowS / 60) * 60 + 60, "the Unix second the minute window resets");
        const refused = answers[10]!;
        assert.equal(refused.statusCode, 429, "burst 10 a second");
        assert.equal(refused.headers["x-ratelimit-remaining"], "0");
        const retryAfter = Number(refused.headers["retry-after"]);
        assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1);
        const example = { error: "rate_limit_exceeded", code: "rate_limit_exceeded", type: "rate_limit", hint: "Rate limit exceeded. Retry after 12 seconds.", request_id: "req_01H..." };
        const body = refused.json();
        assertLikeExample(body, example, ["error", "code", "type"], "429");
        assert.equal(body.hint, `Rate limit exceeded. Retry after ${retryAfter} seconds.`);
        assert.match(String(refused.headers["content-type"]), /^application\/json/);
      });
    });


    describe("concepts/pagination", () => {
      it("every /v1 list answers {object, data, has_more, url}, and total_count only with include_count=true", async () => {
        const tenant = await roomyKey(t);
        const call = asKey(t, tenant);
        assert.equal((await call("POST", "/v1/integrations/openai")).statusCode, 201);
        const endpoint = (await call("POST", "/v1/webhook_endpoints", { url: receiver.url, enabled_events: ["*"], send_test_event_on_create: true })).json();
        const lists = ["/v1/integrations", "/v1/integrations/catalog", "/v1/webhook_endpoints", `/v1/webhook_endpoints/${endpoint.id}/deliveries`, "/v1/audit_events", "/v1/integrations/openai/logs"];
        for (const url of lists) {
          const plain = await call("GET", url);
          assert.equal(plain.statusCode, 200, `${url}: ${plain.body}`);
          assert.deepEqual(Object.keys(plain.json()), ["object", "data", "has_more", "url"], url);
          assert.deepEqual([plain.json().object, plain.json().url, typeof plain.json().has_more], ["list", url, "boolean"], url);
          assert.deepEqual(Object.keys((await call("GET", `${url}?include_count=false`)).json()), ["object", "data", "has_more", "url"], url);
          const counted = (await call("GET", `${url}?include_count=true&limit=1`)).json();
          assert.deepEqual(Object.keys(counted), ["object", "data", "has_more", "url", "total_count"], url);
          assert.ok(Number.isInteger(counted.total_count) && counted.total_count >= plain.json().data.length, `${url}: total_count ${counted.total_count}`);
          assert.equal(counted.has_more, counted.total_count > 1, `${url}: has_more with limit=1`);
        }
      });

      it("limit (default 20, max 100), starting_after and ending_before (exclusive), total_count of all matching records", async () => {
        const tenant = await roomyKey(t);
        const call = asKey(t, tenant);
        const endpoint = (await call("POST", "/v1/webhook_endpoints", { url: receiver.url, enabled_events: ["*"] })).json();
        for (let i = 0; i < 24; i++) assert.equal((await call("PATCH", `/v1/webhook_endpoints/${endpoint.id}`, { description: `v${i}` })).statusCode, 200);
        // The entity's and key's creation, the endpoint's creation and its 24 updates.
        const all = (await call("GET", "/v1/audit_events?limit=100")).json();
        const total = all.data.length;
        assert.deepEqual([total, all.has_more], [27, false]);
        const first = (await call("GET", "/v1/audit_events?include_count=true")).json();
        assert.deepEqual([first.data.length, first.has_more, first.total_count], [20, true, total], "default limit 20");
        const rest = (await call("GET", `/v1/audit_events?starting_after=${first.data[19].id}`)).json();
        assert.deepEqual([rest.data.length, rest.has_more], [total - 20, false], "the records after the cursor, exclusive");
        assert.deepEqual([...first.data, ...rest.data].map((e: { id: string }) => e.id), all.data.map((e: { id: string }) => e.id), "no record twice, none skipped, newest first");
        const back = (await call("GET", `/v1/audit_events?limit=20&ending_before=${rest.data[0].id}`)).json();
        assert.deepEqual(back.data.map((e: { id: string }) => e.id), first.data.map((e: { id: string }) => e.id), "ending_before pages back to the same records, in the same order");
        assert.equal(back.has_more, false, "nothing newer than the first page");
        const filtered = (await call("GET", `/v1/audit_events?limit=1&include_count=true&target_id=${endpoint.id}&created_lte=2000-01-01T00:00:00Z`)).json();
        assert.deepEqual([filtered.data.length, filtered.total_count, filtered.has_more], [0, 0, false], "total_count counts the filtered records");

        for (const [query, param] of [["limit=101", "limit"], ["limit=0", "limit"], ["include_count=maybe", "include_count"], [`starting_after=${first.data[0].id}&ending_before=${first.data[5].id}`, "ending_before"]] as const) {
          const refused = await call("GET", `/v1/audit_events?${query}`);
          assert.equal(refused.statusCode, 400, query);
          assert.deepEqual([refused.json().type, refused.json().param], ["validation_error", param], `${query}: ${refused.body}`);
        }
      });

      it("the catalog pages by connector type", async () => {
        const call = asKey(t, await roomyKey(t));
        const all = (await call("GET", "/v1/integrations/catalog?limit=100&include_count=true")).json();
        assert.equal(all.total_count, all.data.length);
        const two = (await call("GET", "/v1/integrations/catalog?limit=2")).json();
        assert.deepEqual([two.data.length, two.has_more], [2, true]);
        const next = (await call("GET", `/v1/integrations/catalog?limit=2&starting_after=${two.data[1].connector_type}`)).json();
        assert.deepEqual(next.data.map((d: { connector_type: string }) => d.connector_type), all.data.slice(2, 4).map((d: { connector_type: string }) => d.connector_type));
        const prev = (await call("GET", `/v1/integrations/catalog?limit=2&ending_before=${next.data[0].connector_type}`)).json();
        assert.deepEqual(prev.data, two.data);
      });

      it("conditional requests: the errors page's 304 row has no documented rule behind it, so GETs carry no ETag and If-None-Match changes nothing", async () => {
        const call = asKey(t, await roomyKey(t));
        const plain = await call("GET", "/v1/integrations/catalog");
        assert.equal(plain.headers.etag, undefined);
        const conditional = await call("GET", "/v1/integrations/catalog", undefined, { "if-none-match": "*" });
        assert.deepEqual([conditional.statusCode, conditional.json().data.length], [200, plain.json().data.length]);
      });
    });

    describe("api-reference/webhooks: create, retrieve, update", () => {
      it("create: the page's request body answers the page's response fields, with a one-time whsec_<hex> secret and test_event", async () => {
        const call = asKey(t, await createTenant(t));
        const res = await call("POST", "/v1/webhook_endpoints", {
          url: receiver.url,
          enabled_events: ["connector.updated", "connection.activated", "purchase.created"],
          events: ["connector.connected"],
          description: "ERP sync",
          mode: "live",
          api_version: "2026-05-01",
          metadata: { team: "ops" },
          send_test_event_on_create: true,
        });
        assert.equal(res.statusCode, 201, res.body);
        const body = res.json();
        const example = {
          id: "3c90c3cc-0d44-4b50-8888-8dd25736052a", object: "webhook_endpoint", entity_id: "3c90c3cc-0d44-4b50-8888-8dd25736052a", url: "<string>", description: "<string>",
          enabled_events: ["order.confirmed"], secret_last4: "<string>", status: "active", mode: "live", api_version: "<string>", success_count: 123, failure_count: 123,
          consecutive_failure_count: 123, last_delivery_at: null, created_at: "2023-11-07T05:31:56Z", metadata: {}, secret: "whsec_0dd4", test_event: { event_id: "", queued_delivery_id: "" },
        };
        assertLikeExample(body, example, ["object", "status", "mode"], "create");
        assert.deepEqual(body.enabled_events, ["connector.updated", "connection.activated", "purchase.created"], "events is ignored when enabled_events is sent");
        assert.match(body.secret, /^whsec_[0-9a-f]{64}$/);
        assert.equal(body.secret_last4, body.secret.slice(-4));
        assert.deepEqual([body.api_version, body.metadata, body.description], ["2026-05-01", { team: "ops" }, "ERP sync"]);
        assert.deepEqual([body.success_count, body.failure_count, body.consecutive_failure_count, body.last_delivery_at], [0, 0, 0, null]);
        assert.equal(body.test_event.status, "queued");

        // The test event arrives signed, in the concepts/webhooks envelope; the guide's receiver accepts it.
        await t.services.jobs.runDueJobs();
        const [delivered] = receiver.hooks().filter((r) => JSON.parse(r.body).id === body.test_event.event_id);
        assert.ok(delivered, "the webhook.test event was delivered");
        const event = JSON.parse(delivered.body);
        assert.deepEqual(Object.keys(event), ["id", "object", "type", "created_at", "api_version", "entity_id", "data", "livemode"]);
        assert.deepEqual([event.object, event.type, event.entity_id, event.livemode, event.api_version], ["event", "webhook.test", body.entity_id, true, "2026-05-01"]);
        assert.equal(event.data.object.id, body.id);
        const signature = String(delivered.headers["arcus-signature"]);
        assert.match(signature, /^t=\d+,v1=[0-9a-f]{64}$/);
        assert.equal(arcusGuideVerifies(signature, delivered.body, body.secret), true);
        assert.equal(arcusGuideVerifies(signature, delivered.body.replace("webhook.test", "webhook.tesT"), body.secret), false);

        // Retrieve: the same record, no secret.
        const one = await call("GET", `/v1/webhook_endpoints/${body.id}`);
        assert.equal(one.statusCode, 200);
        assert.equal(one.json().secret, undefined);
        assertLikeExample(one.json(), Object.fromEntries(Object.entries(example).filter(([k]) => k !== "secret" && k !== "test_event")), ["object", "status", "mode"], "retrieve");
        assert.equal(one.json().success_count, 1);
        const [log] = (await call("GET", `/v1/webhook_endpoints/${body.id}/deliveries`)).json().data;
        assert.equal(one.json().last_delivery_at, log.attempts[0].attempted_at);
        assert.equal(log.attempts[0].request_body, delivered.body, "the delivery log shows the body as sent");

        // Later test events: POST …/send_test_event.
        const again = await call("POST", `/v1/webhook_endpoints/${body.id}/send_test_event`);
        assert.equal(again.statusCode, 202, again.body);
        await t.services.jobs.runDueJobs();
        assert.ok(receiver.hooks().some((r) => JSON.parse(r.body).id === again.json().event_id));
      });

      it("update: a partial update; enabled_events [\"order.*\"]-style family wildcards; status paused skips delivery", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const created = (await call("POST", "/v1/webhook_endpoints", { url: receiver.url, enabled_events: ["purchase.created"] })).json();
        const res = await call("PATCH", `/v1/webhook_endpoints/${created.id}`, { enabled_events: ["connector.*"], description: "connectors", metadata: { a: "1" } });
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual([res.json().enabled_events, res.json().description, res.json().metadata, res.json().url], [["connector.*"], "connectors", { a: "1" }, receiver.url]);
        const alias = await call("PATCH", `/v1/webhook_endpoints/${created.id}`, { events: ["*"] });
        assert.deepEqual(alias.json().enabled_events, ["*"], "the deprecated alias events, alone, sets the subscription");
        await call("PATCH", `/v1/webhook_endpoints/${created.id}`, { enabled_events: ["connector.*"] });

        const before = receiver.hooks().length;
        await emit(t, tenant.entityId, "connector.updated", { id: "c1", mode: "live" });
        await emit(t, tenant.entityId, "purchase.created", { id: "p1" });
        await t.services.jobs.runDueJobs();
        const got = receiver.hooks().slice(before).map((r) => JSON.parse(r.body).type);
        assert.deepEqual(got, ["connector.updated"], "connector.* matches the family only");

        await call("PATCH", `/v1/webhook_endpoints/${created.id}`, { status: "paused" });
        await emit(t, tenant.entityId, "connector.updated", { id: "c1", mode: "live" });
        await t.services.jobs.runDueJobs();
        assert.equal(receiver.hooks().length, before + 1, "paused: skipped");
        const kept = (await call("GET", `/v1/webhook_endpoints/${created.id}`)).json();
        assert.deepEqual([kept.status, kept.enabled_events], ["paused", ["connector.*"]], "the subscription is kept");

        for (const bad of [{ enabled_events: ["nothing.*"] }, { enabled_events: [] }, { metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i])) }, { status: "sleeping" }]) {
          const refused = await call("PATCH", `/v1/webhook_endpoints/${created.id}`, bad);
          assert.equal(refused.statusCode, 400, JSON.stringify(bad));
          assert.equal(refused.json().type, "validation_error");
        }
        const fifty = await call("PATCH", `/v1/webhook_endpoints/${created.id}`, { metadata: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i])) });
        assert.equal(fifty.statusCode, 200, "50 keys are allowed");
      });

      it("update: the page's request body, every field at once (events ignored beside enabled_events); the page's response fields", async () => {
        const call = asKey(t, await roomyKey(t));
        const created = (await call("POST", "/v1/webhook_endpoints", { url: receiver.url, enabled_events: ["purchase.created"] })).json();
        const res = await call("PATCH", `/v1/webhook_endpoints/${created.id}`, {
          url: `${receiver.url}?v=2`, enabled_events: ["connector.updated"], events: ["purchase.created"], description: "updated", status: "active", api_version: "2026-05-01", metadata: { k: "v" },
        });
        assert.equal(res.statusCode, 200, res.body);
        const example = {
          id: "3c90c3cc-0d44-4b50-8888-8dd25736052a", object: "webhook_endpoint", entity_id: "3c90c3cc-0d44-4b50-8888-8dd25736052a", url: "<string>", description: "<string>",
          enabled_events: ["order.confirmed"], secret_last4: "<string>", status: "active", mode: "live", api_version: "<string>", success_count: 123, failure_count: 123,
          consecutive_failure_count: 123, last_delivery_at: null, created_at: "2023-11-07T05:31:56Z", metadata: {},
        };
        const body = res.json();
        assertLikeExample(body, example, ["object", "status", "mode"], "update");
        assert.deepEqual([body.url, body.enabled_events, body.description, body.api_version, body.metadata], [`${receiver.url}?v=2`, ["connector.updated"], "updated", "2026-05-01", { k: "v" }]);
        assert.equal(body.secret, undefined, "no secret outside create and rotate");
        const nulls = await call("PATCH", `/v1/webhook_endpoints/${created.id}`, { description: null, api_version: null });
        assert.equal(nulls.statusCode, 200, `description and api_version are "string | null": ${nulls.body}`);
        assert.deepEqual([nulls.json().description, nulls.json().api_version], [null, null]);
        assert.equal((await call("PATCH", `/v1/webhook_endpoints/${created.id}`, { enabled_events: [] })).statusCode, 400, "non-empty if provided");
      });

      it("status disabled is permanently off: deliveries stop and it is not set active or paused again", async () => {
        const tenant = await roomyKey(t);
        const call = asKey(t, tenant);
        const created = (await call("POST", "/v1/webhook_endpoints", { url: receiver.url, enabled_events: ["connector.*"] })).json();
        assert.equal((await call("PATCH", `/v1/webhook_endpoints/${created.id}`, { status: "disabled" })).json().status, "disabled");
        const before = receiver.hooks().length;
        await emit(t, tenant.entityId, "connector.updated", { id: "c-off", mode: "live" });
        await t.services.jobs.runDueJobs();
        assert.equal(receiver.hooks().length, before, "a disabled endpoint receives nothing");
        for (const status of ["active", "paused"]) {
          const refused = await call("PATCH", `/v1/webhook_endpoints/${created.id}`, { status });
          assert.deepEqual([refused.statusCode, refused.json().code, refused.json().type], [409, "endpoint_disabled", "conflict"], status);
        }
        assert.equal((await call("PATCH", `/v1/webhook_endpoints/${created.id}`, { description: "still editable" })).statusCode, 200);
      });

      it("rotate_secret: the page's response {webhook_id, secret, last4, rotated_at}, the secret once; the guide's receiver accepts the new secret", async () => {
        const tenant = await roomyKey(t);
        const call = asKey(t, tenant);
        const created = (await call("POST", "/v1/webhook_endpoints", { url: receiver.url, enabled_events: ["connector.*"] })).json();
        const res = await call("POST", `/v1/webhook_endpoints/${created.id}/rotate_secret`);
        assert.equal(res.statusCode, 200, res.body);
        const body = res.json();
        assertLikeExample(body, { webhook_id: "3c90c3cc-0d44-4b50-8888-8dd25736052a", secret: "<string>", last4: "<string>", rotated_at: "2023-11-07T05:31:56Z" }, [], "rotate");
        assert.equal(body.webhook_id, created.id);
        assert.match(body.secret, /^whsec_[0-9a-f]{64}$/);
        assert.notEqual(body.secret, created.secret);
        assert.equal(body.last4, body.secret.slice(-4));
        assert.ok(body.rotated_at >= created.created_at && body.rotated_at <= t.clock.now().toISOString(), "rotated now");
        const after = (await call("GET", `/v1/webhook_endpoints/${created.id}`)).json();
        assert.deepEqual([after.secret, after.secret_last4], [undefined, body.last4], "the secret is not shown again; secret_last4 follows it");
        const before = receiver.hooks().length;
        await emit(t, tenant.entityId, "connector.updated", { id: "c-rot", mode: "live" });
        await t.services.jobs.runDueJobs();
        const [delivered] = receiver.hooks().slice(before);
        assert.ok(delivered);
        // During the overlap the header carries a v1 per secret: the guide's receiver reads the first, the new secret's.
        assert.equal(arcusGuideVerifies(String(delivered.headers["arcus-signature"]), delivered.body, body.secret), true);
      });

      it("mode: test keys manage test endpoints, which receive test-mode events only", async () => {
        const tenant = await createTenant(t);
        const testKey = await addKey(t, tenant.entityId, { mode: "test" });
        const asTest = asKey(t, testKey);
        const testEndpoint = await asTest("POST", "/v1/webhook_endpoints", { url: `${receiver.url}?m=test`, enabled_events: ["*"] });
        assert.equal(testEndpoint.statusCode, 201, testEndpoint.body);
        assert.equal(testEndpoint.json().mode, "test", "a test key's endpoint is a test endpoint");
        const refused = await asTest("POST", "/v1/webhook_endpoints", { url: receiver.url, enabled_events: ["*"], mode: "live" });
        assert.deepEqual([refused.statusCode, refused.json().code], [403, "live_mode_forbidden"]);
        const live = (await asKey(t, tenant)("POST", "/v1/webhook_endpoints", { url: `${receiver.url}?m=live`, enabled_events: ["*"] })).json();
        assert.equal(live.mode, "live");
        const listed = (await asTest("GET", "/v1/webhook_endpoints")).json().data.map((e: { id: string }) => e.id);
        assert.deepEqual(listed, [testEndpoint.json().id], "a test key lists test endpoints only");
        assert.equal((await asTest("GET", `/v1/webhook_endpoints/${live.id}`)).statusCode, 403);

        const before = receiver.hooks().length;
        await emit(t, tenant.entityId, "connector.updated", { id: "sandboxed", mode: "sandbox" });
        await emit(t, tenant.entityId, "connector.updated", { id: "real", mode: "live" });
        await t.services.jobs.runDueJobs();
        const got = receiver.hooks().slice(before).map((r) => [r.query.get("m"), JSON.parse(r.body).data.object.id, JSON.parse(r.body).livemode]);
        assert.deepEqual(got.sort(), [["live", "real", true], ["test", "sandboxed", false]]);
      });
    });
  });
}
