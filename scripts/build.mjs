// The production bundle of Patchbay (dist/patchbay.mjs): built with esbuild
// from src/main.ts when missing or older than any file under src/. Used by
// `npm start` (scripts/start.mjs) and by the benchmark, which starts Patchbay
// the way `npm start` does. Beside it, dist/pglite-image: a migrated embedded
// database the first start copies in instead of running initdb
// (src/db/pglite-image.ts); kept across rebuilds and remade only when PGlite
// or the migrations change.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureConsoleBuilt, newestUnder } from "./build-console.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const src = path.join(root, "src");
const dist = path.join(root, "dist");
export const BUNDLE = path.join(dist, "patchbay.mjs");
export const PGLITE_IMAGE = path.join(dist, "pglite-image");
const IMAGE_BUILDER = path.join(dist, "build-image.mjs");
/** Packages the bundle loads from node_modules rather than holding them (see the build below). */
const BUNDLE_EXTERNAL = ["@electric-sql/pglite", "pg", "pg-native", "@fastify/swagger-ui", "esbuild"];

/**
 * esbuild escapes every non-ASCII character of a string, template or regular expression (its default charset), but
 * copies comments as they are, and the dependencies' comments hold a few (undici's "request’s …"). One is enough
 * for V8 to keep the whole 4 MB source as a two-byte string, 8 MB of heap for the process's life. In a comment an
 * escape is as good as the character, so each becomes one.
 */
function asciiOnly(file) {
  const text = fs.readFileSync(file, "utf8");
  const ascii = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  if (ascii !== text) fs.writeFileSync(file, ascii);
}

/** Builds the bundle if it is missing or stale (or `force`); returns its path. */
export async function ensureBuilt({ force = false } = {}) {
  // The console first: its built files live under src/ and are copied beside the bundle.
  // Rebuilt only when stale: a forced server rebuild (PATCHBAY_REBUILD) must not empty the assets other processes are serving.
  await ensureConsoleBuilt();
  const builtAt = fs.existsSync(BUNDLE) ? fs.statSync(BUNDLE).mtimeMs : 0;
  if (!force && builtAt >= newestUnder(src) && fs.existsSync(path.join(PGLITE_IMAGE, "PATCHBAY_IMAGE"))) return BUNDLE;
  const { build } = await import("esbuild");
  // Everything but the image, which the builder below keeps when it still fits.
  for (const entry of fs.existsSync(dist) ? fs.readdirSync(dist) : []) {
    if (entry !== path.basename(PGLITE_IMAGE)) fs.rmSync(path.join(dist, entry), { recursive: true, force: true });
  }
  await build({
    entryPoints: { patchbay: path.join(src, "main.ts"), "build-image": path.join(src, "db", "build-image.ts") },
    outdir: dist,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // The dependencies are bundled too: one file to load instead of some 400 of node_modules (a third of the
    // start-up was Node resolving, reading and compiling them). Left in node_modules: what finds files beside
    // itself at run time (PGlite's WASM and data, Swagger UI's static pages), pg (its optional native
    // binding) and esbuild (the build step's own).
    external: BUNDLE_EXTERNAL,
    // The CommonJS dependencies call require(); an ES module has none of its own.
    banner: { js: "import { createRequire as __patchbayCreateRequire } from 'node:module'; const require = __patchbayCreateRequire(import.meta.url);" },
    // File names and lines, without the sources' text (the files are in src/ and node_modules). Applied only on
    // request (NODE_OPTIONS=--enable-source-maps, scripts/start.mjs).
    sourcemap: "linked",
    sourcesContent: false,
    logLevel: "warning",
  });
  asciiOnly(BUNDLE);
  // Files the code reads beside itself (import.meta.url): the migrations and the console's assets.
  fs.cpSync(path.join(src, "db", "migrations"), path.join(dist, "migrations"), { recursive: true });
  fs.cpSync(path.join(src, "surfaces", "console", "assets"), path.join(dist, "assets"), { recursive: true });
  // In a child process: initdb's PGlite never lives in the process that goes on to serve.
  execFileSync(process.execPath, [IMAGE_BUILDER, PGLITE_IMAGE], { stdio: ["ignore", "ignore", "inherit"] });
  return BUNDLE;
}
