// The compiled CLI (dist-cli/): esbuild bundles src/cli/index.ts with code
// splitting, so each command's module (and the packages it imports, kept in
// node_modules) loads only when that command runs. Rebuilt by bin/patchbay.mjs
// when missing or older than any file under src/ or sdk/src/ (or with
// PATCHBAY_REBUILD=true). A call then starts in well under 300 ms instead of
// about 2 s through tsx.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { newestUnder } from "./build-console.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join(root, "dist-cli");
export const CLI_ENTRY = path.join(out, "index.js");

/** Builds the CLI if it is missing or stale (or `force`); returns its entry point. */
export async function ensureCliBuilt({ force = false } = {}) {
  const builtAt = fs.existsSync(CLI_ENTRY) ? fs.statSync(CLI_ENTRY).mtimeMs : 0;
  const newest = Math.max(newestUnder(path.join(root, "src")), newestUnder(path.join(root, "sdk", "src")), fs.statSync(path.join(root, "package.json")).mtimeMs);
  if (!force && builtAt >= newest) return CLI_ENTRY;
  const { build } = await import("esbuild");
  const version = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).version;
  const tmp = `${out}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  await build({
    entryPoints: { index: path.join(root, "src", "cli", "index.ts") },
    outdir: tmp,
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    define: { PATCHBAY_VERSION: JSON.stringify(version) },
    sourcemap: "linked",
    logLevel: "warning",
  });
  // Files the code reads beside itself (import.meta.url): the migrations (patchbay migrate).
  fs.cpSync(path.join(root, "src", "db", "migrations"), path.join(tmp, "migrations"), { recursive: true });
  fs.rmSync(out, { recursive: true, force: true });
  fs.renameSync(tmp, out);
  return CLI_ENTRY;
}
