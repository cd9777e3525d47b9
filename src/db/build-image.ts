// The build step's image of a migrated embedded database (pglite-image.ts):
// `node dist/build-image.mjs <dir>` makes <dir> unless it is already a usable
// image for this code. Run by scripts/build.mjs in a child process, so the
// process that goes on to serve never carries the builder's PGlite.
import { buildImage, usableImage } from "./pglite-image.ts";

const dir = process.argv[2];
if (!dir) throw new Error("usage: build-image <dir>");
if (!usableImage(dir)) await buildImage(dir);
