import { createHash } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { MIGRATIONS_DIR, migrationFiles } from "./migration-files.ts";

/**
 * The embedded database's first start, without initdb: the build step
 * (scripts/build.mjs → dist/build-image.mjs) makes a PGlite data dir, runs
 * every migration on it and keeps it beside the bundle as dist/pglite-image.
 * A server whose data dir holds no database yet copies that image in and
 * opens it, instead of having PGlite run initdb (about 4.5 s of CPU) and then
 * the migrations (BENCHMARKS.md).
 *
 * Safety (RELIABILITY.md): the image is copied into a staging dir inside the
 * data dir and renamed into place as a whole, so a crash mid-copy leaves no
 * half database behind (the next start removes the staging dir and copies
 * again); and a data dir that already holds anything at all under pglite/ is
 * never touched. The caller holds the data-dir lock, so no second process
 * races the copy.
 */

/** What the image depends on: PGlite's version (its PostgreSQL's on-disk format) and the migrations. */
export function imageKey(): string {
  const h = createHash("sha256");
  const require = createRequire(import.meta.url);
  // Its package.json is not exported: found from the entry point up.
  let root = path.dirname(require.resolve("@electric-sql/pglite"));
  while (!fs.existsSync(path.join(root, "package.json"))) root = path.dirname(root);
  const pglite = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { version: string };
  h.update(`pglite ${pglite.version}\n`);
  // What the builder leaves out of the image (build-image.ts): a builder that changes it makes images anew.
  h.update("image without map forks\n");
  for (const f of migrationFiles()) h.update(f).update(fs.readFileSync(path.join(MIGRATIONS_DIR, f)));
  return h.digest("hex").slice(0, 16);
}

/** The file in an image naming its key; written last, so an image without it is incomplete. */
export const IMAGE_KEY_FILE = "PATCHBAY_IMAGE";

/** Whether `dir` is a complete image made for this code (PGlite version and migrations). */
export function usableImage(dir: string): boolean {
  try {
    return fs.readFileSync(path.join(dir, IMAGE_KEY_FILE), "utf8").trim() === imageKey() && fs.existsSync(path.join(dir, "PG_VERSION"));
  } catch {
    return false;
  }
}

const STAGING_PREFIX = "pglite.from-image-";

/**
 * Copies `image` to `pgliteDir` if, and only if, nothing is there yet (no
 * directory, or an empty one). Resolves whether it did. A stale or missing
 * image is not used (PGlite then runs initdb, and the migrations run as ever).
 * The files are copied and flushed several at a time: the image is about 900
 * files, and a file's create and fsync, not its bytes, are what cost.
 */
export async function seedFromImage(pgliteDir: string, image: string | undefined): Promise<boolean> {
  const parent = path.dirname(pgliteDir);
  // Left by a start that died mid-copy: never renamed into place, so never used.
  for (const entry of fs.existsSync(parent) ? fs.readdirSync(parent) : []) {
    if (entry.startsWith(STAGING_PREFIX)) fs.rmSync(path.join(parent, entry), { recursive: true, force: true });
  }
  if (!image || (fs.existsSync(pgliteDir) && fs.readdirSync(pgliteDir).length > 0)) return false;
  if (!usableImage(image)) return false;
  const staging = path.join(parent, `${STAGING_PREFIX}${process.pid}`);
  // The image's own files, never a link to them (a linked image dir would become the database itself).
  const source = fs.realpathSync(image);
  const { dirs, files } = treeOf(source);
  for (const dir of dirs) fs.mkdirSync(path.join(staging, dir), { recursive: true });
  await eachAtOnce(files, COPIES_AT_ONCE, (file) => fsp.copyFile(path.join(source, file), path.join(staging, file)));
  // An image replaced by a build while it was being copied is not used: the copy must carry the key checked above.
  if (!usableImage(staging)) {
    fs.rmSync(staging, { recursive: true, force: true });
    return false;
  }
  fs.rmSync(path.join(staging, IMAGE_KEY_FILE), { force: true });
  // Every file and directory on disk before the rename makes the copy the database.
  await eachAtOnce(files.filter((f) => f !== IMAGE_KEY_FILE), COPIES_AT_ONCE, (file) => syncFile(path.join(staging, file)));
  for (const dir of dirs.reverse()) await syncDir(path.join(staging, dir));
  // rename(2) replaces an empty directory and refuses a non-empty one (ENOTEMPTY): an existing database is never overwritten.
  fs.renameSync(staging, pgliteDir);
  await syncDir(parent);
  return true;
}

/** Files in flight at once: enough to keep libuv's four threads and the disk busy. */
const COPIES_AT_ONCE = 16;

/** The directories (parents first, "" the root) and files under `root`, as paths relative to it. Links are followed. */
export function treeOf(root: string): { dirs: string[]; files: string[] } {
  const dirs: string[] = [""];
  const files: string[] = [];
  for (let i = 0; i < dirs.length; i++) {
    for (const entry of fs.readdirSync(path.join(root, dirs[i]!), { withFileTypes: true })) {
      const rel = path.join(dirs[i]!, entry.name);
      const stat = entry.isSymbolicLink() ? fs.statSync(path.join(root, rel)) : entry;
      if (stat.isDirectory()) dirs.push(rel);
      else if (stat.isFile()) files.push(rel);
    }
  }
  return { dirs, files };
}

async function eachAtOnce<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

async function syncDir(dir: string): Promise<void> {
  try {
    await syncFile(dir);
  } catch {
    // some filesystems refuse fsync on a directory; the files themselves are synced
  }
}

async function syncFile(file: string): Promise<void> {
  const handle = await fsp.open(file, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
