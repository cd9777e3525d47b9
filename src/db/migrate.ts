import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "kysely";
import type { Database } from "./index.ts";
import { MIGRATIONS_DIR, migrationFiles } from "./migration-files.ts";

export { MIGRATIONS_DIR, migrationFiles };

/** Where each applied migration is reported (a pino logger in the server). */
export interface MigrationLog {
  info(obj: object, msg: string): void;
}

/** Held for the whole run: one process migrates, the others wait for it and then find nothing to do. */
const MIGRATION_LOCK = 7270523;

export class NewerMigrationError extends Error {
  constructor(
    readonly newer: string[],
    readonly latestKnown: string | undefined,
  ) {
    super(
      `the database has migration${newer.length > 1 ? "s" : ""} ${newer.join(", ")} applied, newer than this version of Patchbay knows ` +
        `(its latest is ${latestKnown ?? "none"}): refusing to start. Run the newer version of Patchbay, or restore a backup taken before it migrated.`,
    );
    this.name = "NewerMigrationError";
  }
}

/**
 * Applies the pending forward-only migrations in order, each in its own
 * transaction, and logs each one (name, time taken).
 *
 * A session advisory lock, taken before anything else (the bookkeeping table
 * included: two `create table if not exists` racing on an empty PostgreSQL is
 * a duplicate-key error in pg_type), makes concurrent starters on one
 * PostgreSQL queue up: the first migrates, the others then see every
 * migration applied. The lock lives on one connection, so a process that dies
 * mid-way releases it with its connection. A database that has a migration
 * newer than this code's latest was migrated by a newer release: running old
 * code on it is refused, not attempted.
 */
export async function migrate(db: Database, log?: MigrationLog): Promise<string[]> {
  return db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK})`.execute(conn);
    try {
      await sql`create table if not exists schema_migrations (version text primary key, applied_at timestamptz not null default now())`.execute(conn);
      const rows = await conn.selectFrom("schema_migrations").select("version").execute();
      const done = new Set(rows.map((r) => r.version));
      const known = migrationFiles().map((f) => f.replace(/\.sql$/, ""));
      const latestKnown = known.at(-1);
      const newer = [...done].filter((v) => !known.includes(v) && (latestKnown === undefined || v > latestKnown)).sort();
      if (newer.length > 0) throw new NewerMigrationError(newer, latestKnown);

      const applied: string[] = [];
      for (const version of known) {
        if (done.has(version)) continue;
        const body = fs.readFileSync(path.join(MIGRATIONS_DIR, `${version}.sql`), "utf8");
        const started = performance.now();
        await conn.transaction().execute(async (trx) => {
          await sql.raw(body).execute(trx);
          await trx.insertInto("schema_migrations").values({ version, applied_at: new Date() }).execute();
        });
        const durationMs = Math.round(performance.now() - started);
        log?.info({ migration: version, durationMs }, `applied migration ${version} in ${durationMs} ms`);
        applied.push(version);
      }
      return applied;
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK})`.execute(conn);
    }
  });
}

/** The newest migration applied, or undefined (backup and restore report it). */
export async function latestAppliedMigration(db: Database): Promise<string | undefined> {
  const row = await db.selectFrom("schema_migrations").select((eb) => eb.fn.max("version").as("version")).executeTakeFirst();
  return row?.version ?? undefined;
}

export async function pendingMigrations(db: Database): Promise<string[]> {
  const rows = await db.selectFrom("schema_migrations").select("version").execute();
  const have = new Set(rows.map((r) => r.version));
  return migrationFiles()
    .map((f) => f.replace(/\.sql$/, ""))
    .filter((v) => !have.has(v));
}
