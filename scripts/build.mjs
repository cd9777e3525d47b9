// The production bundle of Patchbay (dist/patchbay.mjs): built with esbuild
// from src/main.ts when missing or older than any file under src/. Used by
// `npm start` (scripts/start.mjs) and by the benchmark, which starts Patchbay
// the way `npm start` does.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureConsoleBuilt, newestUnder } from "./build-console.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const src = path.join(root, "src");
const dist = path.join(root, "dist");
export const BUNDLE = path.join(dist, "patchbay.mjs");

/** Builds the bundle if it is missing or stale (or `force`); returns its path. */
export async function ensureBuilt({ force = false } = {}) {
  // The console first: its built files live under src/ and are copied beside the bundle.
  await ensureConsoleBuilt({ force });
  const builtAt = fs.existsSync(BUNDLE) ? fs.statSync(BUNDLE).mtimeMs : 0;
  if (!force && builtAt >= newestUnder(src)) return BUNDLE;
  const { build } = await import("esbuild");
  fs.rmSync(dist, { recursive: true, force: true });
  await build({
    entryPoints: [path.join(src, "main.ts")],
    outfile: BUNDLE,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // Dependencies stay in node_modules (PGlite's WASM, pg's optional natives): only Patchbay's own code is bundled.
    packages: "external",
    sourcemap: "linked",
    logLevel: "warning",
  });
  // Files the code reads beside itself (import.meta.url): the migrations and the console's assets.
  fs.cpSync(path.join(src, "db", "migrations"), path.join(dist, "migrations"), { recursive: true });
  fs.cpSync(path.join(src, "surfaces", "console", "assets"), path.join(dist, "assets"), { recursive: true });
  return BUNDLE;
}
