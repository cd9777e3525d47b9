import fs from "node:fs";
import path from "node:path";
import v8 from "node:v8";
import type { PGlite } from "@electric-sql/pglite";
import { Kysely, type Dialect } from "kysely";
import { ANNOUNCE_AFTER_COMMIT, PgDialect } from "./pg-driver.ts";
import { PGliteDialect } from "./pglite-dialect.ts";
import { seedFromImage } from "./pglite-image.ts";
import { timestamptzParser } from "./pg-timestamps.ts";
import { registerRequestTransactions, withRequestTransactions } from "./request-transaction.ts";
import { createChangeFeed, listenForChanges, registerChangeFeed, watchWrites, type ChangeFeed } from "./change-feed.ts";
import type { DB } from "./schema.ts";

export type Database = Kysely<DB>;
export type DatabaseKind = "pglite" | "postgres";

export interface OpenDatabase {
  db: Database;
  kind: DatabaseKind;
  close(): Promise<void>;
  /** Connections in use by a query, queries waiting for one, connections open (for /metrics). */
  poolStats(): { inUse: number; waiting: number; total: number };
}

export type DatabaseTarget =
  /** prepare: named prepared statements (PATCHBAY_PG_PREPARE; default on). */
  | { kind: "postgres"; url: string; poolSize?: number; connectTimeoutMs?: number; prepare?: boolean }
  /** image: a migrated data dir copied in when dataDir holds no database yet (pglite-image.ts). */
  /** optimizeWasm: PGlite's WASM tiers up to V8's optimising compiler (PATCHBAY_EMBEDDED_WASM_OPTIMIZE; default off). */
  | { kind: "pglite"; dataDir: string; image?: string; optimizeWasm?: boolean }
  | { kind: "pglite"; instance: PGlite };

/**
 * PGlite's shared_buffers is resident from the moment it starts (PostgreSQL
 * initialises the whole pool): its default of 128 MB alone put the embedded
 * server past 200 MB RSS. The data dir is ordinary files, so a page that is not
 * in the pool is read from the OS page cache, which costs a system call, not a
 * disk read, and is not this process's memory. Measured under the bench's load
 * (BENCHMARKS.md, "Issue 16, eighth pass"): 8 MB answered as fast as 32 MB
 * (GET 2,983 against 2,809 req/s, fresh PATCH 410 against 381) and peaked
 * 24–29 MB lower.
 */
const EMBEDDED_POSTGRESQL_CONF = ["shared_buffers=8MB"];

/** A Kysely instance whose statements join the ambient request transaction, if any (request-transaction.ts). */
function withAmbient(dialect: Dialect, sessions: "one" | "many", feed: ChangeFeed): Database {
  const wrapped = withRequestTransactions(watchWrites(dialect, feed));
  const db = new Kysely<DB>({ dialect: wrapped.dialect });
  registerRequestTransactions(db, wrapped.driver(), sessions);
  // Writes of cached tables announced to the caches (change-feed.ts).
  registerChangeFeed(db, feed);
  return db;
}

export async function openDatabase(target: DatabaseTarget): Promise<OpenDatabase> {
  // Each driver is loaded only when used: importing both cost the start-up a few hundred ms.
  if (target.kind === "postgres") {
    const { default: pg } = await import("pg");
    // A query waits at most connectTimeoutMs for a connection: while the server is down, an answer (503) comes within that bound.
    // timestamptz read by position, not by node-postgres's three regular expressions (pg-timestamps.ts).
    const parseTimestamptz = timestamptzParser(pg.types.getTypeParser(1184, "text"));
    const types = { getTypeParser: ((oid: number, format?: "text" | "binary") => (oid === 1184 && format !== "binary" ? parseTimestamptz : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser };
    const pool = new pg.Pool({ connectionString: target.url, max: target.poolSize ?? 10, connectionTimeoutMillis: target.connectTimeoutMs ?? 3000, types });
    // A client that loses its server, idle (the pool's event) or checked out by a query
    // (the client's own event, unheard otherwise), must not take the process down: the
    // query in flight fails with the error, and the pool drops the client.
    pool.on("error", () => {});
    // Each connection's first statement (queued ahead of any other): its triggers' change announcements are sent
    // behind each COMMIT, not inside it (pg-driver.ts, migration 0044). Should it fail, they announce at commit.
    pool.on("connect", (client) => {
      client.on("error", () => {});
      client.query(ANNOUNCE_AFTER_COMMIT).catch(() => {});
    });
    // Other processes' writes of cached rows are heard on one LISTEN connection, opened once a cache subscribes.
    const url = target.url;
    const feed = createChangeFeed({ listen: () => listenForChanges(url, feed) });
    const db = withAmbient(new PgDialect(pool, { prepare: target.prepare }), "many", feed);
    const poolStats = () => ({ inUse: pool.totalCount - pool.idleCount, waiting: pool.waitingCount, total: pool.totalCount });
    return {
      db,
      kind: "postgres",
      close: async () => {
        await feed.close();
        await db.destroy();
      },
      poolStats,
    };
  }
  let pglite: PGlite;
  let owned = false;
  if ("instance" in target) {
    pglite = target.instance;
  } else {
    fs.mkdirSync(target.dataDir, { recursive: true });
    const dir = path.join(target.dataDir, "pglite");
    if (target.image) await seedFromImage(dir, target.image);
    // PGlite's WASM is compiled by V8's baseline compiler only, unless asked: the optimising tier recompiles the hot
    // part of the module in the background from the start, for 0.5–1 s of CPU and 40–60 MB of resident code, and
    // makes a long run's queries 5–45% cheaper (BENCHMARKS.md, "Issue 16, fifth pass"). Set before the module
    // compiles; it applies to this process's WebAssembly (PGlite's, and undici's HTTP parser).
    if (!target.optimizeWasm) v8.setFlagsFromString("--liftoff-only");
    const { PGlite } = await import("@electric-sql/pglite");
    pglite = await PGlite.create(dir, { postgresqlconf: EMBEDDED_POSTGRESQL_CONF });
    owned = true;
  }
  // One process owns the data dir: its own writes are all there is to hear.
  const db = withAmbient(new PGliteDialect(pglite), "one", createChangeFeed());
  return {
    db,
    kind: "pglite",
    // One embedded connection; its queries queue inside the dialect, not in a pool.
    poolStats: () => ({ inUse: 0, waiting: 0, total: 1 }),
    close: async () => {
      await db.destroy();
      if (owned || "instance" in target) await pglite.close();
    },
  };
}
