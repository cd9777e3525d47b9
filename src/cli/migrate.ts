import { openDatabase } from "../db/index.ts";
import { lockDataDir } from "../db/data-dir-lock.ts";
import { migrate } from "../db/migrate.ts";
import type { CommandContext } from "./context.ts";

/** Applies pending migrations directly (the server also does this at start). */
export async function migrateCommand({ config, out }: CommandContext): Promise<void> {
  const unlock = config.databaseUrl ? () => {} : lockDataDir(config.dataDir);
  const database = await openDatabase(config.databaseUrl ? { kind: "postgres", url: config.databaseUrl } : { kind: "pglite", dataDir: config.dataDir });
  try {
    const applied = await migrate(database.db);
    out.result({ applied }, () => (applied.length ? `Applied ${applied.join(", ")}` : "Database is up to date."));
  } finally {
    await database.close();
    unlock();
  }
}
