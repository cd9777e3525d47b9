// Runs once before the suite: builds the migrated database templates every test clones,
// and the web console every app serves (src/surfaces/console/assets, generated).
import { ensureConsoleBuilt } from "../scripts/build-console.mjs";
import { pgliteTemplateFile, postgresTemplate } from "./helpers/databases.ts";

const started = Date.now();
await Promise.all([pgliteTemplateFile(), postgresTemplate(), ensureConsoleBuilt()]);
process.stdout.write(`test templates ready in ${Date.now() - started} ms\n`);
