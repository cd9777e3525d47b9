import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { useIdempotency } from "../src/idempotency/hook.ts";
import { createIdempotencyStore } from "../src/idempotency/store.ts";
import { contextTrackingOn } from "../src/db/request-transaction.ts";
import { sql } from "kysely";
import { NotFoundError } from "../src/kernel/errors.ts";
import { normalizeError } from "../src/surfaces/shared/http-errors.ts";
import { ManualClock } from "./helpers/clock.ts";
import { createTestDatabase, DB_KINDS, type TestDatabase } from "./helpers/databases.ts";

/** Holds the probe route between its two inserts until the test lets it go. */
const probeGates = new Map<string, () => void>();

/** The shop-integrations surface's JSON:API error shape (SPEC §5). */
function renderJsonApi(_request: FastifyRequest, reply: FastifyReply, err: unknown) {
  const e = normalizeError(err);
  return reply.status(e.status).send({ errors: [{ status: String(e.status), code: e.code, title: e.message, detail: e.hint ?? e.message }] });
}

/** The connections surface's FastAPI-style shape (SPEC §4). */
function renderDetail(_request: FastifyRequest, reply: FastifyReply, err: unknown) {
  const e = normalizeError(err);
  if (typeof e.meta?.retry_after === "number") reply.header("retry-after", String(e.meta.retry_after));
  return reply.status(e.status).send({ detail: e.message });
}

/**
 * Two stand-in surfaces with their own error shapes, as the connections and
 * shop-integrations surfaces will reuse the hook: it must answer in each one's
 * shape and know nothing of /v1.
 */
async function buildSurfaces(database: TestDatabase, executions: Map<string, number>): Promise<FastifyInstance> {
  const store = createIdempotencyStore({ db: database.db, clock: new ManualClock() });
  const count = (name: string) => executions.set(name, (executions.get(name) ?? 0) + 1);
  const app = Fastify();
  await app.register(async (surface) => {
    surface.setErrorHandler((err, request, reply) => renderJsonApi(request, reply, err));
    useIdempotency(surface, { store, scopeOf: () => "entity:shop-surface", renderError: renderJsonApi });
    surface.patch("/api/v3/integrations/:id", async (request, reply) => {
      count(`patch ${(request.params as { id: string }).id}`);
      if ((request.params as { id: string }).id === "404") throw new NotFoundError("integration_not_found", "No integration 404.");
      return reply.code(204).send();
    });
    // Two statements with a wait between them, then a 5xx: both must roll back with the key's transaction.
    surface.post("/api/v3/probe/:name", async (request, reply) => {
      const { name } = request.params as { name: string };
      await sql`insert into ctx_probe (name) values (${`${name} first`})`.execute(database.db);
      if (name.startsWith("held")) await new Promise<void>((resolve) => probeGates.set(name, () => (probeGates.delete(name), resolve())));
      await sql`insert into ctx_probe (name) values (${`${name} second`})`.execute(database.db);
      if (name.endsWith("fails")) throw new Error("the probe fails after its writes");
      return reply.code(201).send({ name });
    });
    surface.post("/api/v3/explode", async () => {
      count("explode");
      throw new Error("database went away");
    });
  });
  await app.register(async (surface) => {
    surface.setErrorHandler((err, request, reply) => renderDetail(request, reply, err));
    useIdempotency(surface, { store, scopeOf: () => "entity:connections-surface", renderError: renderDetail });
    surface.post("/connections", async (_request, reply) => {
      count("connections");
      await new Promise((r) => setTimeout(r, 200));
      return reply.code(201).send({ id: "c1", status: "initialized" });
    });
    surface.get("/connections", async () => {
      count("list");
      return { connections: [] };
    });
  });
  await app.ready();
  return app;
}

for (const kind of DB_KINDS) {
  describe(`[${kind}] the idempotency hook serves any surface in its own error shape`, () => {
    let database: TestDatabase;
    let app: FastifyInstance;
    const executions = new Map<string, number>();
    before(async () => {
      database = await createTestDatabase(kind);
      await sql`create table ctx_probe (name text not null)`.execute(database.db);
      app = await buildSurfaces(database, executions);
    });
    after(async () => {
      await app.close();
      await database.close();
    });

    it("a 204 with no body is stored and replayed empty", async () => {
      const headers = { "idempotency-key": randomUUID() };
      const first = await app.inject({ method: "PATCH", url: "/api/v3/integrations/7", payload: { shop_name: "A" }, headers });
      assert.equal(first.statusCode, 204);
      const retry = await app.inject({ method: "PATCH", url: "/api/v3/integrations/7", payload: { shop_name: "A" }, headers });
      assert.equal(retry.statusCode, 204);
      assert.equal(retry.body, "");
      assert.equal(retry.headers["idempotent-replayed"], "true");
      assert.equal(executions.get("patch 7"), 1);
    });

    it("JSON:API surface: mismatch is a 409 in {errors:[…]}; a stored 404 replays in that shape", async () => {
      const headers = { "idempotency-key": randomUUID() };
      const first = await app.inject({ method: "PATCH", url: "/api/v3/integrations/404", payload: { shop_name: "A" }, headers });
      assert.equal(first.statusCode, 404);
      assert.equal(first.json().errors[0].code, "integration_not_found");
      const replay = await app.inject({ method: "PATCH", url: "/api/v3/integrations/404", payload: { shop_name: "A" }, headers });
      assert.equal(replay.body, first.body);
      assert.equal(executions.get("patch 404"), 1);
      const mismatch = await app.inject({ method: "PATCH", url: "/api/v3/integrations/404", payload: { shop_name: "B" }, headers });
      assert.equal(mismatch.statusCode, 409);
      assert.deepEqual(Object.keys(mismatch.json()), ["errors"]);
      assert.equal(mismatch.json().errors[0].status, "409");
      assert.equal(mismatch.json().errors[0].code, "idempotency_key_mismatch");
      const tooLong = await app.inject({ method: "PATCH", url: "/api/v3/integrations/7", payload: {}, headers: { "idempotency-key": "x".repeat(300) } });
      assert.equal(tooLong.statusCode, 400);
      assert.equal(tooLong.json().errors[0].code, "idempotency_key_invalid");
    });

    it("FastAPI-style surface: in use is a 409 {detail} with Retry-After; then the answer replays", async () => {
      const headers = { "idempotency-key": randomUUID() };
      const slow = app.inject({ method: "POST", url: "/connections", payload: { customer_id: "c" }, headers });
      await new Promise((r) => setTimeout(r, 80));
      const busy = await app.inject({ method: "POST", url: "/connections", payload: { customer_id: "c" }, headers });
      assert.equal(busy.statusCode, 409, busy.body);
      assert.equal(typeof busy.json().detail, "string");
      assert.equal(busy.headers["retry-after"], "1");
      const done = await slow;
      assert.equal(done.statusCode, 201);
      const replay = await app.inject({ method: "POST", url: "/connections", payload: { customer_id: "c" }, headers });
      assert.equal(replay.body, done.body);
      assert.equal(replay.headers["idempotent-replayed"], "true");
      assert.equal(executions.get("connections"), 1);
    });

    it("a 5xx is not stored: the key is released and a retry executes again", async () => {
      const headers = { "idempotency-key": randomUUID() };
      assert.equal((await app.inject({ method: "POST", url: "/api/v3/explode", payload: {}, headers })).statusCode, 500);
      const retry = await app.inject({ method: "POST", url: "/api/v3/explode", payload: {}, headers });
      assert.equal(retry.statusCode, 500);
      assert.equal(retry.headers["idempotent-replayed"], undefined);
      assert.equal(executions.get("explode"), 2);
      const left = await database.db.selectFrom("idempotency_keys").select("key").where("key", "=", headers["idempotency-key"]).execute();
      assert.equal(left.length, 0);
    });

    it("async context tracking is off once no keyed write runs, and stays on while one still does", async () => {
      // Node 20's AsyncLocalStorage hooks every promise while it is on; where it is built on context frames (null), nothing is.
      const tracking = (expected: boolean): boolean => contextTrackingOn() ?? expected;
      if (process.versions.node.startsWith("20.")) assert.notEqual(contextTrackingOn(), null, "Node 20's AsyncLocalStorage is the hooked one");
      const probe = (name: string) => app.inject({ method: "POST", url: `/api/v3/probe/${name}`, payload: {}, headers: { "idempotency-key": randomUUID() } });
      const rows = async (prefix: string) =>
        (await sql<{ name: string }>`select name from ctx_probe where name like ${`${prefix}%`} order by name`.execute(database.db)).rows.map((r) => r.name);
      // On PostgreSQL another keyed write starts and ends while the first waits between its two statements.
      // (The embedded database has one session: there the second would wait for the first's transaction.)
      if (kind === "postgres") {
        const held = probe("held fails");
        while (!probeGates.has("held fails")) await new Promise((r) => setTimeout(r, 5));
        let trackingWhileHeld: boolean;
        try {
          assert.equal((await probe("quick")).statusCode, 201);
          await new Promise((r) => setImmediate(r));
          await new Promise((r) => setTimeout(r, 20));
          trackingWhileHeld = tracking(true);
        } finally {
          probeGates.get("held fails")!();
        }
        assert.equal((await held).statusCode, 500);
        // Both of its statements rolled back with it: the second one, made after the other write ended, joined its transaction too.
        assert.deepEqual(await rows("held"), []);
        assert.equal(trackingWhileHeld, true, "the held write still ran: the hooks stayed on");
      } else {
        assert.equal((await probe("quick")).statusCode, 201);
      }
      assert.deepEqual(await rows("quick"), ["quick first", "quick second"]);
      await new Promise((r) => setImmediate(r));
      assert.equal(tracking(false), false, "no keyed write runs: the promise hooks are off");
      // The next keyed write switches it on again and its statements still join its transaction.
      const again = probe("held again fails");
      while (!probeGates.has("held again fails")) await new Promise((r) => setTimeout(r, 5));
      assert.equal(tracking(true), true);
      probeGates.get("held again fails")!();
      assert.equal((await again).statusCode, 500);
      assert.deepEqual(await rows("held again"), []);
    });

    it("GET ignores the header", async () => {
      const headers = { "idempotency-key": randomUUID() };
      await app.inject({ method: "GET", url: "/connections", headers });
      await app.inject({ method: "GET", url: "/connections", headers });
      assert.equal(executions.get("list"), 2);
    });
  });
}
