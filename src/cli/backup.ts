// `patchbay backup --out FILE` and `patchbay restore FILE`: the embedded database (PGlite's data-dir dump, a
// gzipped tar). PostgreSQL is backed up with pg_dump (README, Backups). The master key is never in a backup.
import fs from "node:fs";
import path from "node:path";
import { lockDataDir } from "../db/data-dir-lock.ts";
import { MASTER_KEY_FILE } from "../vault/key-ring.ts";
import type { CommandContext } from "./context.ts";
import { CliError } from "./output.ts";

const PGLITE_DIR = "pglite";

/** The schema's newest migration, through migrate.ts (the schema_migrations table's owner). */
async function latestMigration(pg: import("@electric-sql/pglite").PGlite): Promise<string | undefined> {
  const [{ openDatabase }, { latestAppliedMigration }] = await Promise.all([import("../db/index.ts"), import("../db/migrate.ts")]);
  const database = await openDatabase({ kind: "pglite", instance: pg });
  return latestAppliedMigration(database.db);
}

function embeddedOnly(c: CommandContext, verb: string): void {
  if (c.config.databaseUrl) {
    throw new CliError(
      `${verb} is for the embedded database; DATABASE_URL points at PostgreSQL.`,
      "Back PostgreSQL up with pg_dump (and restore with pg_restore); README, Backups, has the recipe and what else to keep (the master keys).",
    );
  }
}

/** The data dir is one process's (data-dir-lock.ts): a running server refuses the command, with what to do. */
function claim(dataDir: string, verb: string): () => void {
  try {
    return lockDataDir(dataDir);
  } catch (err) {
    throw new CliError(
      `Refusing to ${verb}: ${(err as Error).message.split(". ")[0]}.`,
      `A copy taken under a running server would not be consistent. Stop the server (SIGTERM: it flushes and exits within 10 s), run \`patchbay ${verb}\` again, then start it.`,
    );
  }
}

function masterKeyWarning(c: CommandContext, dataDir: string): string {
  const file = path.join(dataDir, MASTER_KEY_FILE);
  const where = c.config.masterKeys ? "PATCHBAY_MASTER_KEYS" : fs.existsSync(file) ? file : `${file} (or PATCHBAY_MASTER_KEYS)`;
  return (
    `warning: the master key is NOT in this backup, by design: the sealed credentials in it can be opened only with ${where}. ` +
    "Keep a copy of the master key apart from the backup (a password manager, a secrets store): a backup alone is unreadable, and the key alone is no data."
  );
}

export async function backupCommand(c: CommandContext): Promise<void> {
  embeddedOnly(c, "backup");
  const out = c.flags.out;
  if (typeof out !== "string" || !out) throw new CliError("backup needs --out FILE.", "patchbay backup --out patchbay-$(date +%F).tar.gz", 2);
  if (fs.existsSync(out) && c.flags.force !== true) throw new CliError(`${out} exists.`, "Choose another file, or pass --force to overwrite it.", 2);
  const dataDir = c.config.dataDir;
  const pgDir = path.join(dataDir, PGLITE_DIR);
  if (!fs.existsSync(path.join(pgDir, "PG_VERSION"))) throw new CliError(`No embedded database in ${dataDir}.`, "Point PATCHBAY_DATA_DIR at the server's data dir.");
  const unlock = claim(dataDir, "backup");
  try {
    const { PGlite } = await import("@electric-sql/pglite");
    c.out.progress(`Opening the embedded database in ${dataDir}…`);
    const pg = await PGlite.create(pgDir);
    let migration: string | undefined;
    let dump: Blob;
    try {
      migration = await latestMigration(pg);
      // Everything on disk first; the dump itself runs with no query in between (PGlite's exclusive lock).
      await pg.exec("checkpoint");
      dump = await pg.dumpDataDir("gzip");
    } finally {
      await pg.close();
    }
    const bytes = Buffer.from(await dump.arrayBuffer());
    const tmp = `${out}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, bytes, { mode: 0o600 });
    fs.renameSync(tmp, out);
    process.stderr.write(`${masterKeyWarning(c, dataDir)}\n`);
    c.out.result({ file: path.resolve(out), bytes: bytes.length, migration: migration ?? null }, () => `Backed up the embedded database (${(bytes.length / 1e6).toFixed(1)} MB, schema at ${migration ?? "none"}) to ${out}.`);
  } finally {
    unlock();
  }
}

export async function restoreCommand(c: CommandContext): Promise<void> {
  embeddedOnly(c, "restore");
  const file = c.args[0];
  if (!file) throw new CliError("restore needs the backup file.", "PATCHBAY_DATA_DIR=./data-restored patchbay restore patchbay-2026-12-01.tar.gz", 2);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    throw new CliError(`Cannot read ${file}.`, undefined, 2);
  }
  // gzip's magic bytes: anything else is not a `patchbay backup` file.
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) throw new CliError(`${file} is not a Patchbay backup (a gzipped data-dir dump from \`patchbay backup\`).`);
  const dataDir = c.config.dataDir;
  const pgDir = path.join(dataDir, PGLITE_DIR);
  if (fs.existsSync(pgDir) && fs.readdirSync(pgDir).length > 0) {
    throw new CliError(`${dataDir} already holds an embedded database; restore never overwrites one.`, "Restore into a new data dir (PATCHBAY_DATA_DIR=./data-restored), or move the old one away first.");
  }
  const unlock = claim(dataDir, "restore");
  try {
    const { PGlite } = await import("@electric-sql/pglite");
    c.out.progress(`Restoring ${file} into ${dataDir}…`);
    let migration: string | undefined;
    try {
      const pg = await PGlite.create(pgDir, { loadDataDir: new Blob([new Uint8Array(bytes)]) });
      try {
        migration = await latestMigration(pg);
      } finally {
        await pg.close();
      }
    } catch (err) {
      fs.rmSync(pgDir, { recursive: true, force: true });
      throw new CliError(`${file} could not be restored: ${(err as Error).message}`, "Is it a file `patchbay backup` wrote, complete?");
    }
    const keyHere = c.config.masterKeys !== null || fs.existsSync(path.join(dataDir, MASTER_KEY_FILE));
    process.stderr.write(
      keyHere
        ? "warning: the backup holds no master key; this data dir's key (or PATCHBAY_MASTER_KEYS) must be the one the backup's secrets were sealed with.\n"
        : `warning: the backup holds no master key. Before starting the server, put the old one back: copy the ${MASTER_KEY_FILE} file of the old data dir to ${path.join(dataDir, MASTER_KEY_FILE)} (mode 0600), or set PATCHBAY_MASTER_KEYS. A server started without it generates a new key, and the restored credentials cannot be opened.\n`,
    );
    c.out.result({ data_dir: path.resolve(dataDir), migration: migration ?? null }, () => `Restored into ${dataDir} (schema at ${migration ?? "none"}; the server applies any newer migrations when it starts).`);
  } finally {
    unlock();
  }
}
