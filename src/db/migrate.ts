import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "kysely";
import type { Database } from "./index.ts";

export const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "migrations");

export function migrationFiles(): string[] {
  return fs
    .readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{4}_.+\.sql$/.test(f))
    .sort();
}

/**
 * Applies the pending forward-only migrations in order, each in its own
 * transaction. An advisory lock makes concurrent starters on one PostgreSQL
 * wait for each other instead of racing.
 */
export async function migrate(db: Database): Promise<string[]> {
  await sql`create table if not exists schema_migrations (version text primary key, applied_at timestamptz not null default now())`.execute(db);
  const applied: string[] = [];
  for (const file of migrationFiles()) {
    const version = file.replace(/\.sql$/, "");
    const body = fs.readFileSync(path.join(MIGRATIONS_DIR, file), "utf8");
    const done = await db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(7270523)`.execute(trx);
      const row = await trx.selectFrom("schema_migrations").select("version").where("version", "=", version).executeTakeFirst();
      if (row) return false;
      await sql.raw(body).execute(trx);
      await trx.insertInto("schema_migrations").values({ version, applied_at: new Date() }).execute();
      return true;
    });
    if (done) applied.push(version);
  }
  return applied;
}

export async function pendingMigrations(db: Database): Promise<string[]> {
  const rows = await db.selectFrom("schema_migrations").select("version").execute();
  const have = new Set(rows.map((r) => r.version));
  return migrationFiles()
    .map((f) => f.replace(/\.sql$/, ""))
    .filter((v) => !have.has(v));
}
