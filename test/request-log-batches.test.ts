import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fs from "node:fs";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { sql } from "kysely";
import { openDatabase, type OpenDatabase } from "../src/db/index.ts";
import { migrate, MIGRATIONS_DIR, migrationFiles } from "../src/db/migrate.ts";
import { createRequestLog, type RequestLog, type RequestLogListOptions } from "../src/services/request-logs.ts";
import { createTestDatabase, DB_KINDS, PG_ADMIN_URL, withDatabase, type TestDatabase } from "./helpers/databases.ts";
import type { DatabaseKind } from "../src/db/index.ts";
import { uuidv7Ms } from "../src/kernel/ids.ts";

const BASE = Date.parse("2026-06-01T12:00:00.000Z");
const ENTITY = "0196f000-0000-7000-8000-0000000000e1";
const OTHER_ENTITY = "0196f000-0000-7000-8000-0000000000e2";
const KEYS = ["0196f000-0000-7000-8000-0000000000a1", "0196f000-0000-7000-8000-0000000000a2"];

/** Every page of a listing, in the direction it reads, joined. */
async function readAll(log: RequestLog, entityId: string, opts: Omit<RequestLogListOptions, "limit">, limit: number, backwards = false): Promise<string[]> {
  const seen: string[] = [];
  // Going back starts below the oldest entry.
  let cursor: string | undefined = backwards ? "00000000-0000-0000-0000-000000000000" : undefined;
  for (let pages = 0; pages < 1_000; pages++) {
    const page = await log.list(entityId, { ...opts, limit, ...(cursor === undefined ? {} : backwards ? { endingBefore: cursor } : { startingAfter: cursor }) });
    assert.ok(page.data.length <= limit);
    const paths = page.data.map((r) => r.path);
    if (backwards) seen.unshift(...paths);
    else seen.push(...paths);
    if (!page.hasMore) return seen;
    cursor = backwards ? page.data[0]!.id : page.data.at(-1)!.id;
  }
  throw new Error("the listing never ended");
}

for (const kind of DB_KINDS) {
  describe(`[${kind}] the request log's batches: one row per entity and flush, merged when listed`, () => {
    let database: TestDatabase;
    let now = BASE;
    const clock = { now: () => new Date(now) };
    const noLastUse = { markUsed: async () => {} };
    // Two processes' logs on one database: their batches of one entity overlap in time.
    let a: RequestLog;
    let b: RequestLog;
    // What was recorded, by entity, oldest first: [path, status, key, ms].
    const recorded: Array<{ entity: string; path: string; status: number; key: string; ms: number }> = [];

    before(async () => {
      database = await createTestDatabase(kind);
      a = createRequestLog({ db: database.db, clock, lastUsed: noLastUse, flushMs: 3_600_000 });
      b = createRequestLog({ db: database.db, clock, lastUsed: noLastUse, flushMs: 3_600_000 });
      // A fixed pseudo-random run: 300 requests, each process flushing at its own irregular times.
      let seed = 42;
      const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      for (let i = 0; i < 300; i++) {
        now = BASE + i * 7;
        const log = rand() < 0.5 ? a : b;
        const entity = rand() < 0.8 ? ENTITY : OTHER_ENTITY;
        const status = [200, 201, 404, 500][Math.floor(rand() * 4)]!;
        const key = KEYS[Math.floor(rand() * 2)]!;
        const p = `/v1/r/${i}`;
        log.record({ entityId: entity, keyId: key, mode: "live", method: i % 3 === 0 ? "POST" : "GET", url: p, status, latencyMs: 3, clientIp: "127.0.0.1", requestId: `req_${i}` });
        recorded.push({ entity, path: p, status, key, ms: now });
        if (rand() < 0.08) await a.flush();
        if (rand() < 0.05) await b.flush();
      }
      await a.flush();
      await b.flush();
    });
    after(async () => database.close());

    const expected = (entity: string, keep: (r: (typeof recorded)[number]) => boolean = () => true) =>
      recorded.filter((r) => r.entity === entity && keep(r)).map((r) => r.path).reverse();

    it("writes one row per entity per flush, whatever the number of requests", async () => {
      const { rows } = await sql<{ entity_id: string; n: string | number }>`select entity_id, count(*) as n from request_log_batches group by entity_id`.execute(database.db);
      assert.equal(rows.length, 2);
      const batches = rows.reduce((s, r) => s + Number(r.n), 0);
      assert.ok(batches < 100, `${batches} batches for 300 requests`);
      // The batches do overlap: the case the listing's merge exists for.
      const { rows: overlapping } = await sql<{ n: string | number }>`select count(*) as n from request_log_batches x join request_log_batches y
        on x.entity_id = y.entity_id and x.id <> y.id and x.first_id < y.id and y.first_id < x.id`.execute(database.db);
      assert.ok(Number(overlapping[0]!.n) > 0);
    });

    it("pages newest first through overlapping batches exactly, at any page size", async () => {
      for (const limit of [1, 3, 10, 100]) assert.deepEqual(await readAll(a, ENTITY, {}, limit), expected(ENTITY), `limit ${limit}`);
      assert.deepEqual(await readAll(b, OTHER_ENTITY, {}, 7), expected(OTHER_ENTITY));
    });

    it("pages back (ending_before) from the oldest entry to the newest exactly", async () => {
      const oldest = await a.list(ENTITY, { limit: 1, createdLte: new Date(recorded.find((r) => r.entity === ENTITY)!.ms) });
      assert.equal(oldest.data.length, 1);
      const newer = expected(ENTITY).slice(0, -1);
      const seen: string[] = [];
      let cursor = oldest.data[0]!.id;
      for (;;) {
        const page = await a.list(ENTITY, { limit: 4, endingBefore: cursor });
        seen.unshift(...page.data.map((r) => r.path));
        if (!page.hasMore) break;
        cursor = page.data[0]!.id;
      }
      assert.deepEqual(seen, newer);
    });

    it("filters by status, class, method, path prefix, key and time, and counts what matches", async () => {
      const inEntity = recorded.filter((r) => r.entity === ENTITY);
      const from = inEntity[40]!.ms;
      const to = inEntity[150]!.ms;
      const cases: Array<[Omit<RequestLogListOptions, "limit">, (r: (typeof recorded)[number]) => boolean]> = [
        [{ status: 500 }, (r) => r.status === 500],
        [{ status: "2xx" }, (r) => r.status < 300],
        [{ method: "post" }, (r) => Number(r.path.split("/").at(-1)) % 3 === 0],
        [{ pathPrefix: "/v1/r/1" }, (r) => r.path.startsWith("/v1/r/1")],
        [{ apiKeyId: KEYS[1]!.toUpperCase() }, (r) => r.key === KEYS[1]],
        [{ createdGte: new Date(from), createdLte: new Date(to) }, (r) => r.ms >= from && r.ms <= to],
        [{ status: 404, createdGte: new Date(from) }, (r) => r.status === 404 && r.ms >= from],
      ];
      for (const [opts, keep] of cases) {
        const want = expected(ENTITY, keep);
        assert.deepEqual(await readAll(a, ENTITY, opts, 5), want, JSON.stringify(opts));
        assert.deepEqual(await readAll(a, ENTITY, opts, 6, true), want, `${JSON.stringify(opts)} backwards`);
        assert.equal((await a.list(ENTITY, { ...opts, limit: 1, includeCount: true })).totalCount, want.length, `${JSON.stringify(opts)} count`);
      }
      assert.deepEqual((await a.list(ENTITY, { limit: 5, status: 302 })).data, []);
    });

    it("gives each entry its own time, request id and fields", async () => {
      const first = recorded[0]!;
      const [entry] = (await a.list(first.entity, { limit: 1, createdLte: new Date(first.ms) })).data;
      assert.deepEqual({ ...entry, id: undefined }, {
        id: undefined,
        object: "request_log",
        method: "POST",
        path: first.path,
        status: first.status,
        latency_ms: 3,
        client_ip: "127.0.0.1",
        request_id: "req_0",
        api_key_id: first.key,
        mode: "live",
        created_at: new Date(first.ms).toISOString(),
      });
    });

    it("a path with a NUL or a lone surrogate is kept readable, and its batch with it", async () => {
      const entity = "0196f000-0000-7000-8000-0000000000e3";
      now = BASE + 10_000;
      a.record({ entityId: entity, keyId: KEYS[0]!, mode: "test", method: "GET", url: "/v1/a\u0000b\ud800c😀", status: 200, latencyMs: 1, clientIp: "::1", requestId: "req_x" });
      a.record({ entityId: entity, keyId: KEYS[0]!, mode: "test", method: "GET", url: '/v1/"quoted"\\back', status: 200, latencyMs: 1, clientIp: "::1", requestId: "req_y" });
      const page = await a.list(entity, { limit: 10 });
      assert.deepEqual(page.data.map((r) => r.path), ['/v1/"quoted"\\back', "/v1/a\ufffdb\ufffdc😀"]);
    });

    it("the purge deletes the batches whose newest entry is past the retention, and only those", async () => {
      const entity = "0196f000-0000-7000-8000-0000000000e4";
      now = BASE + 20_000;
      a.record({ entityId: entity, keyId: KEYS[0]!, mode: "live", method: "GET", url: "/old", status: 200, latencyMs: 1, clientIp: "::1", requestId: "req_o" });
      await a.flush();
      now = BASE + 30_000;
      a.record({ entityId: entity, keyId: KEYS[0]!, mode: "live", method: "GET", url: "/new", status: 200, latencyMs: 1, clientIp: "::1", requestId: "req_n" });
      await a.flush();
      now = BASE + 40_000;
      assert.ok((await a.purgeOlderThan(15_000)) >= 1);
      assert.deepEqual((await a.list(entity, { limit: 10 })).data.map((r) => r.path), ["/new"]);
    });
  });
}

/** An empty database of the kind, migrated up to (not including) `stop`. */
async function migratedUpTo(kind: DatabaseKind, stop: string): Promise<OpenDatabase & { drop(): Promise<void> }> {
  let opened: OpenDatabase;
  let drop = async () => {};
  if (kind === "pglite") {
    opened = await openDatabase({ kind: "pglite", instance: await PGlite.create() });
  } else {
    const name = `patchbay_m_${process.pid}_${Date.now().toString(36)}`;
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    opened = await openDatabase({ kind: "postgres", url: withDatabase(PG_ADMIN_URL, name), poolSize: 1 });
    drop = async () => {
      const dropper = new pg.Client({ connectionString: PG_ADMIN_URL });
      await dropper.connect();
      await dropper.query(`drop database if exists ${name} with (force)`);
      await dropper.end();
    };
  }
  const { db } = opened;
  await sql`create table schema_migrations (version text primary key, applied_at timestamptz not null default now())`.execute(db);
  for (const file of migrationFiles()) {
    const version = file.replace(/\.sql$/, "");
    if (version >= stop) break;
    await sql.raw(fs.readFileSync(path.join(MIGRATIONS_DIR, file), "utf8")).execute(db);
    await sql`insert into schema_migrations (version) values (${version})`.execute(db);
  }
  return { ...opened, drop };
}

for (const kind of DB_KINDS) {
  describe(`[${kind}] migration 0045: the request log's rows move into batches`, () => {
    it("every logged request is listed after the upgrade as before it, newest first, with its fields", async () => {
      const target = await migratedUpTo(kind, "0045");
      try {
        const ids = ["0196f000-0001-7000-8000-000000000001", "0196f000-0002-7000-8000-000000000002", "0196f100-0000-7000-8000-000000000003"];
        for (const [i, id] of ids.entries()) {
          await sql`insert into request_logs (id, entity_id, api_key_id, mode, method, path, status, latency_ms, client_ip, request_id, created_at)
            values (${id}, ${ENTITY}, ${KEYS[0]!}, 'test', 'GET', ${`/v1/"old"/${i}`}, ${200 + i}, ${i}, '10.0.0.1', ${`req_${i}`}, to_timestamp(${uuidv7Ms(id)} / 1000.0))`.execute(target.db);
        }
        assert.deepEqual(await migrate(target.db), migrationFiles().map((f) => f.replace(/\.sql$/, "")).filter((v) => v >= "0045"));
        const log = createRequestLog({ db: target.db, clock: { now: () => new Date() }, lastUsed: { markUsed: async () => {} } });
        const page = await log.list(ENTITY, { limit: 10, includeCount: true });
        assert.equal(page.totalCount, 3);
        assert.deepEqual(page.data.map((r) => [r.id, r.path, r.status, r.latency_ms, r.mode, r.request_id, r.client_ip, r.api_key_id]), [
          [ids[2], '/v1/"old"/2', 202, 2, "test", "req_2", "10.0.0.1", KEYS[0]],
          [ids[1], '/v1/"old"/1', 201, 1, "test", "req_1", "10.0.0.1", KEYS[0]],
          [ids[0], '/v1/"old"/0', 200, 0, "test", "req_0", "10.0.0.1", KEYS[0]],
        ]);
        const { rows } = await sql<{ n: string | number }>`select count(*) as n from request_log_batches`.execute(target.db);
        // The first two share a minute, the third is minutes later.
        assert.equal(Number(rows[0]!.n), 2);
      } finally {
        await target.close();
        await target.drop();
      }
    });
  });
}
