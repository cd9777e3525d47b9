// The web console (console/, Preact) built by Vite into static files under
// src/surfaces/console/assets/ (generated, not committed), which
// src/surfaces/console/routes.ts serves. Rebuilt when missing or older than
// any file under console/; used by `npm start` (scripts/build.mjs),
// `npm run start:dev`, the test preparation and `npm run test:console`.
// Needs no network: Vite and Preact come from node_modules.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const source = path.join(root, "console");
export const CONSOLE_ASSETS = path.join(root, "src", "surfaces", "console", "assets");
const stamp = path.join(CONSOLE_ASSETS, "index.html");

/** The newest modification time of any file under `dir`: the build scripts rebuild what is older. */
export function newestUnder(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestUnder(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

/** Builds the console if it is missing or stale (or `force`); returns the assets directory. */
export async function ensureConsoleBuilt({ force = false } = {}) {
  const builtAt = fs.existsSync(stamp) ? fs.statSync(stamp).mtimeMs : 0;
  if (!force && builtAt >= newestUnder(source)) return CONSOLE_ASSETS;
  const { build } = await import("vite");
  await build({
    root: source,
    base: "/console/",
    configFile: false,
    logLevel: "warn",
    publicDir: false,
    oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
    build: {
      outDir: CONSOLE_ASSETS,
      emptyOutDir: true,
      // Fixed names: the route serves a known set of files, and no inline script or style is emitted (strict CSP).
      assetsDir: ".",
      modulePreload: false,
      cssCodeSplit: false,
      assetsInlineLimit: 0,
      sourcemap: false,
      target: "es2022",
      rollupOptions: { output: { entryFileNames: "app.js", chunkFileNames: "app-[name].js", assetFileNames: "console[extname]" } },
    },
  });
  return CONSOLE_ASSETS;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  await ensureConsoleBuilt({ force: process.argv.includes("--force") });
  process.stdout.write(`console built in ${Date.now() - started} ms\n`);
}
