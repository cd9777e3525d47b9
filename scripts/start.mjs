// `npm start`: Patchbay from its compiled bundle, rebuilt first when any file
// under src/ is newer (scripts/build.mjs, esbuild, well under a second).
// Compiling once instead of through tsx's loader at every start cuts start-up
// time and memory (BENCHMARKS.md). `npm run start:dev`, the tests and the CLI
// run src/ through tsx.
import { ensureBuilt } from "./build.mjs";

const bundle = await ensureBuilt({ force: process.env.PATCHBAY_REBUILD === "true" });
// Stack traces name the bundle's functions and lines. The bundle's source map (dist/patchbay.mjs.map) is not
// applied by default: Node parses the whole map into the heap the first time a stack is formatted (some 50 MB
// for the dependencies' 440,000 mappings) and looks every frame up after that. `NODE_OPTIONS=--enable-source-maps
// npm start` maps them back to src/ and node_modules.
await import(bundle);
