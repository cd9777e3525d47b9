// A second process for the queue tests: on "go" (a line on stdin) it runs a
// worker on the given PostgreSQL for a while and prints the id of every job
// it ran, one per line.
import readline from "node:readline";
import { systemClock } from "../../src/kernel/clock.ts";
import { openDatabase } from "../../src/db/index.ts";
import { createJobQueue, type JobLog } from "../../src/queue/queue.ts";

const [url, runForMs] = process.argv.slice(2);
if (!url || !runForMs) throw new Error("usage: job-worker.ts DATABASE_URL RUN_FOR_MS");

const database = await openDatabase({ kind: "postgres", url, poolSize: 4 });
const queue = createJobQueue({ db: database.db, clock: systemClock, pollMs: 20, concurrency: 8 });
queue.register<{ n: number }>("count", {
  handler: async (_payload, ctx) => {
    process.stdout.write(`${ctx.id}\n`);
    await new Promise((r) => setTimeout(r, 10));
  },
});
const toStderr: JobLog = {
  info() {},
  warn: (o, m) => process.stderr.write(`worker warn: ${m} ${JSON.stringify(o)}\n`),
  error: (o, m) => process.stderr.write(`worker error: ${m} ${JSON.stringify(o)}\n`),
};
process.stdout.write("ready\n");
for await (const line of readline.createInterface({ input: process.stdin })) if (line === "go") break;
queue.start(toStderr);
await new Promise((r) => setTimeout(r, Number(runForMs)));
await queue.stop();
await database.close();
