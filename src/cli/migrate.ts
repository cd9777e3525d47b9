import { openDatabase } from "../db/index.ts";
import { lockDataDir } from "../db/data-dir-lock.ts";
import { migrate, migrationFiles, pendingMigrations } from "../db/migrate.ts";
import type { CommandContext } from "./context.ts";

/** Applies pending migrations directly (the server also does this at start). */
export async function migrateCommand({ config, out }: CommandContext): Promise<void> {
  const unlock = config.databaseUrl ? () => {} : lockDataDir(config.dataDir);
  const database = await openDatabase(config.databaseUrl ? { kind: "postgres", url: config.databaseUrl } : { kind: "pglite", dataDir: config.dataDir });
  try {
    // A bar on a terminal (one step per migration applied); nothing extra in a pipe.
    // An empty database has no schema_migrations yet: then every migration is pending.
    const total = (await pendingMigrations(database.db).catch(() => migrationFiles())).length;
    let done = 0;
    if (total > 0) out.bar("migrations", 0, total);
    const applied = await migrate(database.db, { info: () => out.bar("migrations", Math.min(++done, total), total) });
    out.result({ applied }, () => (applied.length ? `Applied ${applied.join(", ")}` : "Database is up to date."));
  } finally {
    await database.close();
    unlock();
  }
}
