// The build step's image of a migrated embedded database (pglite-image.ts):
// `node dist/build-image.mjs <dir>` makes <dir> unless it is already a usable
// image for this code. Run by scripts/build.mjs in a child process, so the
// process that goes on to serve never carries the builder's PGlite.
import fs from "node:fs";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { openDatabase } from "./index.ts";
import { migrate } from "./migrate.ts";
import { IMAGE_KEY_FILE, imageKey, treeOf, usableImage } from "./pglite-image.ts";

const dir = process.argv[2];
if (!dir) throw new Error("usage: build-image <dir>");
if (!usableImage(dir)) await buildImage(dir);

/**
 * Makes the image in `dir` (the build step): a fresh PGlite data dir with
 * every migration applied, checkpointed and closed, then its key file.
 * Built in a staging dir and renamed into place, so a half-built image is
 * never taken for one.
 */
async function buildImage(dir: string): Promise<void> {
  const parent = path.dirname(dir);
  // Left by a builder that died; another one still building (two test files starting at once) keeps its own.
  const prefix = `${path.basename(dir)}.building-`;
  for (const entry of fs.existsSync(parent) ? fs.readdirSync(parent) : []) {
    if (entry.startsWith(prefix) && !isAlive(Number(entry.slice(prefix.length)))) fs.rmSync(path.join(parent, entry), { recursive: true, force: true });
  }
  const staging = `${dir}.building-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  const pglite = await PGlite.create(staging);
  const database = await openDatabase({ kind: "pglite", instance: pglite });
  await migrate(database.db);
  await pglite.exec("checkpoint");
  await database.close();
  dropMapForks(staging);
  fs.writeFileSync(path.join(staging, IMAGE_KEY_FILE), imageKey());
  // The old image out of the way first (a server copying it meanwhile fails its key check and runs initdb instead).
  const old = `${dir}.old-${process.pid}`;
  if (fs.existsSync(dir)) fs.renameSync(dir, old);
  try {
    fs.renameSync(staging, dir);
  } catch (err) {
    // Another builder got there first with its own image: keep that one.
    fs.rmSync(staging, { recursive: true, force: true });
    if (!usableImage(dir)) throw err;
  }
  fs.rmSync(old, { recursive: true, force: true });
}

/**
 * Each relation's free space map (`_fsm`) and visibility map (`_vm`) files: a fifth of the image's files,
 * and every file costs the first start a create and an fsync. PostgreSQL makes either map when it first
 * needs it, and reads a missing one as empty (no free space recorded, no page known all-visible), which is
 * what a freshly migrated database's maps say anyway.
 */
function dropMapForks(dir: string): void {
  for (const file of treeOf(dir).files) if (/^\d+_(fsm|vm)$/.test(path.basename(file))) fs.rmSync(path.join(dir, file));
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
