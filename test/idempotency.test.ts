import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import { canonicalJson, requestFingerprint } from "../src/idempotency/fingerprint.ts";
import { purgeExpiredIdempotencyKeys } from "../src/idempotency/purge.ts";
import { entityScope, IDEMPOTENCY_TTL_MS } from "../src/idempotency/store.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { addKey, asKey, createTenant, type Tenant } from "./helpers/fixtures.ts";

const ik = (key: string = randomUUID()) => ({ "idempotency-key": key });

/** Every stored record of the app's database, with its bytes decoded. */
async function storedRecords(t: TestApp) {
  const rows = await t.database.db.selectFrom("idempotency_keys").selectAll().execute();
  return rows.map((r) => ({ ...r, body: r.response_body ? Buffer.from(r.response_body).toString("utf8") : null }));
}

async function recordOf(t: TestApp, scope: string, key: string) {
  return t.database.db.selectFrom("idempotency_keys").selectAll().where("scope", "=", scope).where("key", "=", key).executeTakeFirst();
}

async function connectorCount(t: TestApp, tenant: Tenant): Promise<number> {
  const row = await t.database.db.selectFrom("connectors").select((eb) => eb.fn.countAll<string>().as("n")).where("entity_id", "=", tenant.entityId).executeTakeFirstOrThrow();
  return Number(row.n);
}

describe("the fingerprint is method, path and canonical body", () => {
  it("sorts object keys at every depth and keeps array order", () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, 1], c: null } }), '{"a":{"c":null,"d":[3,1]},"b":1}');
    assert.equal(canonicalJson({ a: undefined, b: "x" }), '{"b":"x"}');
    assert.equal(canonicalJson(undefined), "");
  });

  it("differs when the method, the path, the body or the caller differ", () => {
    const base = { scope: "entity:e:live", key: "k", method: "POST", path: "/v1/integrations/stripe", body: { a: 1, b: 2 } };
    const fp = requestFingerprint(base);
    assert.equal(fp.length, 32, "a SHA-256, never the body");
    assert.ok(fp.equals(requestFingerprint({ ...base, body: { b: 2, a: 1 } })));
    for (const change of [{ method: "PATCH" }, { path: "/v1/integrations/postmark" }, { body: { a: 1, b: 3 } }, { scope: "entity:f:live" }]) {
      assert.ok(!fp.equals(requestFingerprint({ ...base, ...change })), JSON.stringify(change));
    }
  });
});

for (const kind of DB_KINDS) {
  describe(`[${kind}] Idempotency-Key (SPEC §3)`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(async () => t.close());

    describe("a retry of the same request replays the stored response byte for byte, without executing again", () => {
      it("POST: same status, headers that matter and body; Idempotent-Replayed: true; one connector", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const headers = ik();
        const first = await call("POST", "/v1/integrations/stripe", { config: { currency: "usd" } }, headers);
        assert.equal(first.statusCode, 201, first.body);
        assert.equal(first.headers["idempotent-replayed"], undefined, "the first answer is not a replay");
        const retry = await call("POST", "/v1/integrations/stripe", { config: { currency: "usd" } }, headers);
        assert.equal(retry.statusCode, 201);
        assert.equal(retry.headers["idempotent-replayed"], "true");
        assert.equal(retry.body, first.body, "byte for byte");
        assert.equal(retry.headers["content-type"], first.headers["content-type"]);
        assert.notEqual(retry.headers["x-request-id"], first.headers["x-request-id"], "per-request headers are fresh");
        assert.equal(await connectorCount(t, tenant), 1);
      });

      it("the retry does not execute: after a DELETE, a replayed POST still answers 201 and restores nothing", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const headers = ik();
        const first = await call("POST", "/v1/integrations/stripe", {}, headers);
        assert.equal((await call("DELETE", "/v1/integrations/stripe")).statusCode, 200);
        const retry = await call("POST", "/v1/integrations/stripe", {}, headers);
        assert.equal(retry.statusCode, 201, "a fresh execution would have restored (200)");
        assert.equal(retry.body, first.body);
        assert.equal((await call("GET", "/v1/integrations/stripe")).json().data.is_active, false, "still disconnected");
      });

      it("PATCH and DELETE replay too", async () => {
        const call = asKey(t, await createTenant(t));
        await call("POST", "/v1/integrations/stripe");
        const patchKey = ik();
        const patched = await call("PATCH", "/v1/integrations/stripe", { display_name: "One" }, patchKey);
        assert.equal(patched.statusCode, 200);
        await call("PATCH", "/v1/integrations/stripe", { display_name: "Two" });
        const patchedAgain = await call("PATCH", "/v1/integrations/stripe", { display_name: "One" }, patchKey);
        assert.equal(patchedAgain.headers["idempotent-replayed"], "true");
        assert.equal(patchedAgain.body, patched.body);
        assert.equal((await call("GET", "/v1/integrations/stripe")).json().data.display_name, "Two", "the replay changed nothing");

        const deleteKey = ik();
        const deleted = await call("DELETE", "/v1/integrations/stripe", undefined, deleteKey);
        assert.equal(deleted.statusCode, 200);
        const deletedAgain = await call("DELETE", "/v1/integrations/stripe", undefined, deleteKey);
        assert.equal(deletedAgain.headers["idempotent-replayed"], "true");
        assert.equal(deletedAgain.body, deleted.body);
      });

      it("a body with its keys in another order is the same request", async () => {
        const call = asKey(t, await createTenant(t));
        const headers = ik();
        const first = await call("POST", "/v1/integrations/stripe", { display_name: "S", config: { currency: "usd", capture_method: "manual" } }, headers);
        const retry = await call("POST", "/v1/integrations/stripe", { config: { capture_method: "manual", currency: "usd" }, display_name: "S" }, headers);
        assert.equal(retry.headers["idempotent-replayed"], "true", retry.body);
        assert.equal(retry.body, first.body);
      });

      it("requests without the header are not idempotent (each executes)", async () => {
        const call = asKey(t, await createTenant(t));
        assert.equal((await call("POST", "/v1/integrations/stripe")).statusCode, 201);
        assert.equal((await call("POST", "/v1/integrations/stripe")).statusCode, 409);
      });
    });

    describe("stored errors of executed requests replay too", () => {
      it("a 409 conflict replays as is, even once a fresh execution would succeed", async () => {
        const call = asKey(t, await createTenant(t));
        await call("POST", "/v1/integrations/stripe");
        const headers = ik();
        const conflict = await call("POST", "/v1/integrations/stripe", {}, headers);
        assert.equal(conflict.statusCode, 409);
        assert.equal(conflict.json().code, "conflict");
        await call("DELETE", "/v1/integrations/stripe");
        const retry = await call("POST", "/v1/integrations/stripe", {}, headers);
        assert.equal(retry.statusCode, 409, "replayed, not executed (which would restore: 200)");
        assert.equal(retry.headers["idempotent-replayed"], "true");
        assert.equal(retry.body, conflict.body, "the original body, request_id included");
        assert.equal(retry.headers["content-type"], conflict.headers["content-type"]);
      });

      it("a 404 and a 403 raised by the service are stored", async () => {
        const tenant = await createTenant(t, { mode: "test" });
        const call = asKey(t, tenant);
        const notFound = ik();
        const first = await call("PATCH", "/v1/integrations/stripe", { display_name: "x" }, notFound);
        assert.equal(first.statusCode, 404);
        await call("POST", "/v1/integrations/stripe");
        const retry = await call("PATCH", "/v1/integrations/stripe", { display_name: "x" }, notFound);
        assert.equal(retry.statusCode, 404);
        assert.equal(retry.body, first.body);

        const live = ik();
        const forbidden = await call("POST", "/v1/integrations/postmark", { mode: "live" }, live);
        assert.equal(forbidden.statusCode, 403);
        assert.equal((await call("POST", "/v1/integrations/postmark", { mode: "live" }, live)).body, forbidden.body);
        assert.equal((await recordOf(t, entityScope(tenant), live["idempotency-key"]))?.response_status, 403);
      });
    });

    describe("errors raised before execution are not stored", () => {
      it("a schema violation leaves the key free: the corrected request executes", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const headers = ik();
        const bad = await call("POST", "/v1/integrations/stripe", { colour: "blue" }, headers);
        assert.equal(bad.statusCode, 400);
        assert.equal(await recordOf(t, entityScope(tenant), headers["idempotency-key"]), undefined);
        const good = await call("POST", "/v1/integrations/stripe", { display_name: "Fixed" }, headers);
        assert.equal(good.statusCode, 201, "not a mismatch: nothing was stored");
        assert.equal(good.headers["idempotent-replayed"], undefined);
      });

      it("malformed JSON, a forbidden field, a missing scope and a bad key are not stored", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const readOnly = asKey(t, await addKey(t, tenant.entityId, { scopes: ["integrations:read"] }));
        const headers = ik();
        assert.equal((await call("POST", "/v1/integrations/stripe", "{bad", { ...headers, "content-type": "application/json" })).statusCode, 400);
        assert.equal((await call("POST", "/v1/integrations/stripe", { secret: "x" }, headers)).statusCode, 422);
        assert.equal((await readOnly("POST", "/v1/integrations/stripe", {}, headers)).statusCode, 403);
        assert.equal((await call("POST", "/v1/integrations/myspace", {}, headers)).statusCode, 400);
        const res = await t.request({ method: "POST", url: "/v1/integrations/stripe", payload: {}, headers: { ...headers, authorization: "Bearer nonsense" } });
        assert.equal(res.statusCode, 401);
        assert.equal(await recordOf(t, entityScope(tenant), headers["idempotency-key"]), undefined);
      });
    });

    describe("same key, different request → 409 idempotency_key_mismatch", () => {
      it("a different body, path or method is refused, and nothing executes", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const headers = ik();
        assert.equal((await call("POST", "/v1/integrations/stripe", { display_name: "A" }, headers)).statusCode, 201);
        const attempts: [string, string, unknown][] = [
          ["POST", "/v1/integrations/stripe", { display_name: "B" }],
          ["POST", "/v1/integrations/postmark", { display_name: "A" }],
          ["PATCH", "/v1/integrations/stripe", { display_name: "A" }],
          ["DELETE", "/v1/integrations/stripe", undefined],
        ];
        for (const [method, url, body] of attempts) {
          const res = await call(method as "POST", url, body, headers);
          assert.equal(res.statusCode, 409, `${method} ${url}: ${res.body}`);
          assert.equal(res.json().code, "idempotency_key_mismatch");
          assert.equal(res.json().type, "conflict");
          assert.equal(typeof res.json().request_id, "string");
          assert.equal(res.headers["idempotent-replayed"], undefined);
        }
        assert.equal(await connectorCount(t, tenant), 1, "postmark was not created");
        assert.equal((await call("GET", "/v1/integrations/stripe")).json().data.is_active, true, "the DELETE did not run");
      });
    });

    describe("a key is at most 255 characters", () => {
      it("256 characters → 400 idempotency_key_invalid, nothing executes; 255 works", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const res = await call("POST", "/v1/integrations/stripe", {}, ik("k".repeat(256)));
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().code, "idempotency_key_invalid");
        assert.equal(res.json().param, "Idempotency-Key");
        assert.match(res.json().hint, /255/);
        assert.equal(await connectorCount(t, tenant), 0);
        const empty = await call("POST", "/v1/integrations/stripe", {}, ik(""));
        assert.equal(empty.statusCode, 400);
        assert.equal(empty.json().code, "idempotency_key_invalid");
        const ok = await call("POST", "/v1/integrations/stripe", {}, ik("k".repeat(255)));
        assert.equal(ok.statusCode, 201);
        assert.equal((await call("POST", "/v1/integrations/stripe", {}, ik("k".repeat(255)))).headers["idempotent-replayed"], "true");
      });
    });

    describe("keys are scoped to the caller (entity + key)", () => {
      it("two entities using one key each get their own execution", async () => {
        const a = await createTenant(t);
        const b = await createTenant(t);
        const headers = ik("shared-key");
        const ra = await asKey(t, a)("POST", "/v1/integrations/stripe", {}, headers);
        const rb = await asKey(t, b)("POST", "/v1/integrations/stripe", {}, headers);
        assert.equal(ra.statusCode, 201);
        assert.equal(rb.statusCode, 201);
        assert.equal(rb.headers["idempotent-replayed"], undefined);
        assert.notEqual(ra.json().id, rb.json().id);
        assert.equal(rb.json().entity_id, b.entityId, "never another entity's answer");
      });

      it("two keys of one entity and mode share the scope; a test key never replays a live key's answer", async () => {
        const live = await createTenant(t);
        const secondLive = await addKey(t, live.entityId);
        const testKey = await addKey(t, live.entityId, { mode: "test" });
        const headers = ik();
        const first = await asKey(t, live)("POST", "/v1/integrations/stripe", { mode: "live" }, headers);
        assert.equal(first.statusCode, 201);
        const sameEntity = await asKey(t, secondLive)("POST", "/v1/integrations/stripe", { mode: "live" }, headers);
        assert.equal(sameEntity.headers["idempotent-replayed"], "true");
        const fromTest = await asKey(t, testKey)("POST", "/v1/integrations/stripe", { mode: "live" }, headers);
        assert.equal(fromTest.statusCode, 403, fromTest.body);
        assert.equal(fromTest.json().code, "live_mode_forbidden");
        assert.ok(!fromTest.body.includes(first.json().id), "no live row leaks to a test key");
      });
    });

    describe("a retry while the first is executing → 409 idempotency_key_in_use (retryable)", () => {
      it("answers 409 with Retry-After while the key is held, and the stored answer once it is done", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const key = randomUUID();
        // Another process is executing this very request right now.
        const held = await t.services.idempotency.begin({ scope: entityScope(tenant), key, method: "POST", path: "/v1/integrations/stripe", body: {} });
        assert.equal(held.kind, "execute");
        const res = await call("POST", "/v1/integrations/stripe", {}, ik(key));
        assert.equal(res.statusCode, 409, res.body);
        assert.equal(res.json().code, "idempotency_key_in_use");
        assert.equal(res.json().type, "conflict");
        assert.equal(res.headers["retry-after"], "1");
        assert.equal(await connectorCount(t, tenant), 0, "not executed");
        // While the key executes nothing of it is stored yet, so another request with it can only be told to wait.
        const other = await call("POST", "/v1/integrations/stripe", { display_name: "other" }, ik(key));
        assert.equal(other.json().code, "idempotency_key_in_use", "a different request while the first runs is told the key is busy");

        if (held.kind !== "execute") return;
        const body = Buffer.from('{"done":true}');
        await t.services.idempotency.complete(held.claim, { status: 201, headers: { "content-type": "application/json; charset=utf-8" }, body });
        const replay = await call("POST", "/v1/integrations/stripe", {}, ik(key));
        assert.equal(replay.statusCode, 201);
        assert.equal(replay.body, '{"done":true}');
        assert.equal(replay.headers["idempotent-replayed"], "true");
        const mismatch = await call("POST", "/v1/integrations/stripe", { display_name: "other" }, ik(key));
        assert.equal(mismatch.json().code, "idempotency_key_mismatch", "once done, a different request is a mismatch");
      });

      it("concurrent identical requests: exactly one executes, the rest replay it or are told it is in use", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const headers = ik();
        const answers = await Promise.all(Array.from({ length: 30 }, () => call("POST", "/v1/integrations/stripe", { display_name: "Once" }, headers)));
        const executed = answers.filter((r) => r.statusCode === 201 && r.headers["idempotent-replayed"] === undefined);
        assert.equal(executed.length, 1, answers.map((r) => `${r.statusCode} ${r.headers["idempotent-replayed"] ?? ""}`).join(","));
        for (const r of answers) {
          if (r.statusCode === 409) assert.equal(r.json().code, "idempotency_key_in_use");
          else assert.equal(r.body, executed[0]!.body);
        }
        assert.equal(await connectorCount(t, tenant), 1);
      });
    });

    describe("the answer commits with the work: a request that died before its commit left nothing, and a slow one never runs twice", () => {
      it("a claim whose process died before committing leaves nothing: a retry executes at once, exactly once", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const key = randomUUID();
        const dead = await t.services.idempotency.begin({ scope: entityScope(tenant), key, method: "POST", path: "/v1/integrations/stripe", body: {} });
        assert.equal(dead.kind, "execute");
        if (dead.kind !== "execute") return;
        assert.equal((await call("POST", "/v1/integrations/stripe", {}, ik(key))).json().code, "idempotency_key_in_use", "held while its transaction lives");
        if (kind === "postgres") {
          // The process dies: PostgreSQL loses its connection and rolls its transaction back.
          const { rows } = await dead.claim.tx.execute<{ pid: number }>(sql`select pg_backend_pid() as pid`.compile(t.database.db));
          await sql`select pg_terminate_backend(${rows[0]!.pid})`.execute(t.database.db);
          await dead.claim.tx.rollback();
        } else {
          // The embedded database belongs to the one process: its death takes the claim and the open transaction with it.
          await t.services.idempotency.abandon(dead.claim);
        }
        const executed = await call("POST", "/v1/integrations/stripe", {}, ik(key));
        assert.equal(executed.statusCode, 201, executed.body);
        assert.equal(executed.headers["idempotent-replayed"], undefined);
        const replay = await call("POST", "/v1/integrations/stripe", {}, ik(key));
        assert.equal(replay.headers["idempotent-replayed"], "true");
        assert.equal(replay.body, executed.body);
        assert.equal(await connectorCount(t, tenant), 1);
      });

      it("a request that runs for an hour still holds its key: no lease lapses under it, a retry is told to wait", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const key = randomUUID();
        const slow = await t.services.idempotency.begin({ scope: entityScope(tenant), key, method: "POST", path: "/v1/integrations/stripe", body: {} });
        assert.equal(slow.kind, "execute");
        if (slow.kind !== "execute") return;
        t.clock.advance(60 * 60_000);
        const retry = await call("POST", "/v1/integrations/stripe", {}, ik(key));
        assert.equal(retry.statusCode, 409, retry.body);
        assert.equal(retry.json().code, "idempotency_key_in_use");
        assert.equal(await connectorCount(t, tenant), 0, "the retry did not execute");
        await t.services.idempotency.complete(slow.claim, { status: 201, headers: { "content-type": "application/json; charset=utf-8" }, body: Buffer.from('{"slow":true}') });
        assert.equal((await call("POST", "/v1/integrations/stripe", {}, ik(key))).body, '{"slow":true}');
      });

      it("a service error after its writes undoes those writes and stores the error: the request is one transaction", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        assert.equal((await call("POST", "/v1/integrations/stripe", {})).statusCode, 201);
        const headers = ik();
        const refused = await call("POST", "/v1/integrations/stripe", {}, headers);
        assert.equal(refused.statusCode, 409, refused.body);
        const replay = await call("POST", "/v1/integrations/stripe", {}, headers);
        assert.equal(replay.headers["idempotent-replayed"], "true");
        assert.equal(replay.body, refused.body);
        assert.equal(await connectorCount(t, tenant), 1);
      });
    });

    describe("keys expire after 24 hours and the purge removes them", () => {
      it("after 24 h the key is free again", async () => {
        const call = asKey(t, await createTenant(t));
        const headers = ik();
        await call("POST", "/v1/integrations/stripe", {}, headers);
        t.clock.advance(IDEMPOTENCY_TTL_MS - 60_000);
        assert.equal((await call("POST", "/v1/integrations/stripe", {}, headers)).headers["idempotent-replayed"], "true");
        t.clock.advance(120_000);
        const reused = await call("POST", "/v1/integrations/postmark", {}, headers);
        assert.equal(reused.statusCode, 201, "a new request, not a mismatch");
        assert.equal(reused.headers["idempotent-replayed"], undefined);
      });

      it("purgeExpiredIdempotencyKeys(db, now) deletes exactly the expired records, in batches", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const oldKeys = [randomUUID(), randomUUID(), randomUUID()];
        for (const k of oldKeys) await call("PATCH", "/v1/integrations/stripe", { display_name: k }, ik(k));
        t.clock.advance(12 * 3600_000);
        const youngKey = randomUUID();
        await call("PATCH", "/v1/integrations/stripe", { display_name: "young" }, ik(youngKey));
        t.clock.advance(12 * 3600_000 + 1000);
        const scope = entityScope(tenant);
        const removed = await purgeExpiredIdempotencyKeys(t.database.db, t.clock.now(), 2);
        assert.ok(removed >= 3, `removed ${removed}`);
        for (const k of oldKeys) assert.equal(await recordOf(t, scope, k), undefined, "expired record removed");
        assert.ok(await recordOf(t, scope, youngKey), "a record within its 24 h stays");
        assert.equal(await purgeExpiredIdempotencyKeys(t.database.db, t.clock.now()), 0, "nothing left to remove");
      });

      it("the recurring purge job runs it on the job queue", async () => {
        const tenant = await createTenant(t);
        const key = randomUUID();
        await asKey(t, tenant)("POST", "/v1/integrations/stripe", {}, ik(key));
        t.clock.advance(IDEMPOTENCY_TTL_MS + t.config.purgeIntervalMs + 1000);
        await t.services.jobs.runDueJobs();
        assert.equal(await recordOf(t, entityScope(tenant), key), undefined);
      });
    });

    describe("no secret is ever stored", () => {
      const SECRET = "sk_live_51HxTopSecretValue0123456789abcdef";

      it("only the hash of a body is kept; a credential-like value in a body is nowhere in the table", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        // Executed and stored (404), with a credential-like value in the body.
        const stored = ik();
        assert.equal((await call("PATCH", "/v1/integrations/stripe", { seller_id: SECRET }, stored)).statusCode, 404);
        // Refused before execution (422), with the value in a forbidden field.
        assert.equal((await call("POST", "/v1/integrations/stripe", { api_key: SECRET }, ik())).statusCode, 422);
        const record = await recordOf(t, entityScope(tenant), stored["idempotency-key"]);
        assert.ok(record, "the 404 was stored");
        assert.equal(Buffer.from(record.fingerprint).length, 32);
        const dump = await sql<{ row: string }>`select t::text as row from idempotency_keys t`.execute(t.database.db);
        for (const { row } of dump.rows) assert.ok(!row.includes(SECRET) && !row.includes(Buffer.from(SECRET).toString("hex")), row);
        for (const r of await storedRecords(t)) assert.ok(!r.body?.includes(SECRET), "no stored body holds it");
      });

      it("admin key creation refuses the header (its answer holds the secret) and creates nothing", async () => {
        const tenant = await createTenant(t);
        const before = (await t.admin("GET", `/admin/v1/entities/${tenant.entityId}/api-keys`)).json().data.length;
        const res = await t.request({
          method: "POST",
          url: `/admin/v1/entities/${tenant.entityId}/api-keys`,
          payload: { name: "x", mode: "live", scopes: ["integrations:read"] },
          headers: { authorization: `Bearer ${t.config.adminToken}`, ...ik() },
        });
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().code, "idempotency_not_supported");
        assert.equal((await t.admin("GET", `/admin/v1/entities/${tenant.entityId}/api-keys`)).json().data.length, before);
        for (const r of await storedRecords(t)) assert.ok(!r.body?.includes("ark_live_ent_") && !r.body?.includes("ark_test_ent_"), "no API key secret stored");
      });
    });

    describe("PUT …/credentials and …/webhook-secret honour the key like every write (issue 13, point 9)", () => {
      const auditCount = async (tenant: Tenant, action: string) =>
        Number(
          (
            await t.database.db
              .selectFrom("audit_events")
              .select((eb) => eb.fn.countAll<string>().as("n"))
              .where("entity_id", "=", tenant.entityId)
              .where("action", "=", action)
              .executeTakeFirstOrThrow()
          ).n,
        );

      for (const [route, body, action] of [
        ["credentials", { secret_key: "sk_live_put_idem_0123456789", publishable_key: "pk_live_put_idem_0123456789" }, "connector.credentials_stored"],
        ["webhook-secret", { webhook_secret: "whsec_put_idem_0123456789abcdef" }, "connector.webhook_secret_stored"],
      ] as const) {
        it(`PUT …/${route}: a retry replays the masked row and runs nothing again; another body is a mismatch`, async () => {
          const tenant = await createTenant(t);
          const call = asKey(t, tenant);
          assert.equal((await call("POST", "/v1/integrations/stripe")).statusCode, 201);
          const headers = ik();
          const first = await call("PUT", `/v1/integrations/stripe/${route}`, body, headers);
          assert.equal(first.statusCode, 200, first.body);
          const retry = await call("PUT", `/v1/integrations/stripe/${route}`, body, headers);
          assert.equal(retry.statusCode, 200);
          assert.equal(retry.headers["idempotent-replayed"], "true");
          assert.equal(retry.body, first.body);
          assert.equal(await auditCount(tenant, action), 1, "executed once");
          const other = await call("PUT", `/v1/integrations/stripe/${route}`, Object.fromEntries(Object.keys(body).map((k) => [k, "another_value_0123456789"])), headers);
          assert.equal(other.statusCode, 409);
          assert.equal(other.json().code, "idempotency_key_mismatch");
          // The stored answer is the masked row; no value of the body is anywhere in the table.
          const dump = await sql<{ row: string }>`select t::text as row from idempotency_keys t`.execute(t.database.db);
          for (const value of Object.values(body)) {
            assert.ok(!first.body.includes(value));
            for (const { row } of dump.rows) assert.ok(!row.includes(value) && !row.includes(Buffer.from(value).toString("hex")), row);
          }
        });

        it(`PUT …/${route}: a 256-character key is 400 idempotency_key_invalid and nothing is stored`, async () => {
          const tenant = await createTenant(t);
          const call = asKey(t, tenant);
          assert.equal((await call("POST", "/v1/integrations/stripe")).statusCode, 201);
          const res = await call("PUT", `/v1/integrations/stripe/${route}`, body, ik("k".repeat(256)));
          assert.equal(res.statusCode, 400, res.body);
          assert.equal(res.json().code, "idempotency_key_invalid");
          assert.equal(await auditCount(tenant, action), 0);
        });
      }
    });

    describe("the OpenAPI document declares the header on every POST, PUT, PATCH and DELETE", () => {
      it("as an optional header parameter of the writes, and nowhere else", async () => {
        const doc = (await t.request({ method: "GET", url: "/openapi.json" })).json();
        const declares = (op: { parameters?: { in: string; name: string }[] }) => (op.parameters ?? []).some((p) => p.in === "header" && p.name === "idempotency-key");
        const path = doc.paths["/v1/integrations/{connector_type}"];
        for (const method of ["post", "patch", "delete"]) assert.ok(declares(path[method]), method);
        assert.ok(!declares(path.get));
        for (const route of ["credentials", "webhook-secret"]) {
          const put = doc.paths[`/v1/integrations/{connector_type}/${route}`].put;
          assert.ok(declares(put), `PUT …/${route}`);
          assert.match(put.description, /Idempotency-Key is honoured/);
        }
        assert.ok(declares(doc.paths["/admin/v1/entities"].post));
        assert.ok(!declares(doc.paths["/admin/v1/entities/{entity_id}/api-keys"].post), "the route that refuses it");
      });
    });

    describe("the admin surface honours Idempotency-Key too", () => {
      it("POST /admin/v1/entities replays; one entity is created", async () => {
        const name = `Idem ${randomUUID()}`;
        const send = () =>
          t.request({ method: "POST", url: "/admin/v1/entities", payload: { name }, headers: { authorization: `Bearer ${t.config.adminToken}`, "idempotency-key": `admin-${name}` } });
        const first = await send();
        assert.equal(first.statusCode, 201);
        const retry = await send();
        assert.equal(retry.headers["idempotent-replayed"], "true");
        assert.equal(retry.body, first.body);
        const all = (await t.admin("GET", "/admin/v1/entities")).json().data as { name: string }[];
        assert.equal(all.filter((e) => e.name === name).length, 1);
      });
    });
  });
}
