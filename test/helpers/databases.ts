import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { openDatabase, type DatabaseKind, type OpenDatabase } from "../../src/db/index.ts";
import { migrate, MIGRATIONS_DIR, migrationFiles } from "../../src/db/migrate.ts";

/** Every test suite runs once per database kind. */
export const DB_KINDS: readonly DatabaseKind[] = ["pglite", "postgres"];

export const PG_ADMIN_URL = process.env.PATCHBAY_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** Changes whenever a migration does, so a stale template is never reused. */
function migrationsHash(): string {
  const h = createHash("sha256");
  for (const f of migrationFiles()) h.update(f).update(fs.readFileSync(path.join(MIGRATIONS_DIR, f)));
  return h.digest("hex").slice(0, 12);
}

const CACHE_DIR = path.join(os.tmpdir(), "patchbay-test-templates");

/**
 * One migrated PGlite data dir per migration set, dumped to a file once and
 * loaded by every test: initdb runs once per run, not once per test.
 */
export async function pgliteTemplateFile(): Promise<string> {
  const file = path.join(CACHE_DIR, `pglite-${migrationsHash()}.tar`);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const pglite = await PGlite.create();
  const { db } = await openDatabase({ kind: "pglite", instance: pglite });
  await migrate(db);
  const dump = await pglite.dumpDataDir("none");
  await pglite.close();
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
  fs.renameSync(tmp, file);
  return file;
}

/** A migrated PostgreSQL template database, created once per migration set. */
export async function postgresTemplate(): Promise<string> {
  const name = `patchbay_tpl_${migrationsHash()}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    // Concurrent test files wait for whichever builds the template first.
    await admin.query("select pg_advisory_lock(7270524)");
    const exists = await admin.query("select 1 from pg_database where datname = $1", [name]);
    if (exists.rowCount === 0) {
      const building = `${name}_building`;
      await admin.query(`drop database if exists ${building}`);
      await admin.query(`create database ${building}`);
      const target = await openDatabase({ kind: "postgres", url: withDatabase(PG_ADMIN_URL, building), poolSize: 1 });
      await migrate(target.db);
      await target.close();
      await admin.query(`alter database ${building} rename to ${name}`);
    }
    await admin.query("select pg_advisory_unlock(7270524)");
  } finally {
    await admin.end();
  }
  return name;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export interface TestDatabase extends OpenDatabase {
  /** PostgreSQL only: the URL of this test's own database (for extra processes). */
  url?: string;
  /** PGlite only: the embedded engine itself (fault tests close it under the app). */
  pglite?: PGlite;
}

/** A fresh, migrated database of the given kind, private to the caller. */
export async function createTestDatabase(kind: DatabaseKind, opts: { poolSize?: number; prepare?: boolean } = {}): Promise<TestDatabase> {
  if (kind === "pglite") {
    const blob = new Blob([fs.readFileSync(await pgliteTemplateFile())]);
    const instance = await PGlite.create({ loadDataDir: blob });
    return { ...(await openDatabase({ kind: "pglite", instance })), pglite: instance };
  }
  const template = await postgresTemplate();
  const name = `patchbay_t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name} template ${template}`);
  await admin.end();
  const url = withDatabase(PG_ADMIN_URL, name);
  const opened = await openDatabase({ kind: "postgres", url, poolSize: opts.poolSize ?? 10, prepare: opts.prepare });
  return {
    ...opened,
    url,
    close: async () => {
      await opened.close();
      const dropper = new pg.Client({ connectionString: PG_ADMIN_URL });
      await dropper.connect();
      await dropper.query(`drop database if exists ${name} with (force)`);
      await dropper.end();
    },
  };
}
