// Runs once before the suite: builds the migrated database templates every test clones.
import { pgliteTemplateFile, postgresTemplate } from "./helpers/databases.ts";

const started = Date.now();
await Promise.all([pgliteTemplateFile(), postgresTemplate()]);
process.stdout.write(`test templates ready in ${Date.now() - started} ms\n`);
