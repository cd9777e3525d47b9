// `npm start`: Patchbay from its compiled bundle, rebuilt first when any file
// under src/ is newer (scripts/build.mjs, esbuild, well under a second).
// Compiling once instead of through tsx's loader at every start cuts start-up
// time and memory (BENCHMARKS.md). `npm run start:dev`, the tests and the CLI
// run src/ through tsx.
import { ensureBuilt } from "./build.mjs";

const bundle = await ensureBuilt({ force: process.env.PATCHBAY_REBUILD === "true" });
process.setSourceMapsEnabled(true);
await import(bundle);
