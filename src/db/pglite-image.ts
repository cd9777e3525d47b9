import { createHash } from "node:crypto";
import fs from "node:fs";
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
 * directory, or an empty one). Returns whether it did. A stale or missing
 * image is not used (PGlite then runs initdb, and the migrations run as ever).
 */
export function seedFromImage(pgliteDir: string, image: string | undefined): boolean {
  const parent = path.dirname(pgliteDir);
  // Left by a start that died mid-copy: never renamed into place, so never used.
  for (const entry of fs.existsSync(parent) ? fs.readdirSync(parent) : []) {
    if (entry.startsWith(STAGING_PREFIX)) fs.rmSync(path.join(parent, entry), { recursive: true, force: true });
  }
  if (!image || (fs.existsSync(pgliteDir) && fs.readdirSync(pgliteDir).length > 0)) return false;
  if (!usableImage(image)) return false;
  const staging = path.join(parent, `${STAGING_PREFIX}${process.pid}`);
  // The image's own files, never a link to them (a linked image dir would become the database itself).
  fs.cpSync(fs.realpathSync(image), staging, { recursive: true, dereference: true });
  // An image replaced by a build while it was being copied is not used: the copy must carry the key checked above.
  if (!usableImage(staging)) {
    fs.rmSync(staging, { recursive: true, force: true });
    return false;
  }
  fs.rmSync(path.join(staging, IMAGE_KEY_FILE), { force: true });
  syncTree(staging);
  // rename(2) replaces an empty directory and refuses a non-empty one (ENOTEMPTY): an existing database is never overwritten.
  fs.renameSync(staging, pgliteDir);
  syncDir(parent);
  return true;
}

/** fsync every file and directory under `dir`: the renamed database is on disk before it is used. */
function syncTree(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) syncTree(full);
    else if (entry.isFile()) syncFile(full, "r");
  }
  syncDir(dir);
}

function syncDir(dir: string): void {
  try {
    syncFile(dir, "r");
  } catch {
    // some filesystems refuse fsync on a directory; the files themselves are synced
  }
}

function syncFile(file: string, flags: string): void {
  const fd = fs.openSync(file, flags);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

