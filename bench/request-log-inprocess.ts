/**
 * The request log's cost per request where machine load cannot blur it: two
 * apps in this one process (log on / PATCHBAY_REQUEST_LOG=false), each on its
 * own database, GET /v1/integrations/stripe injected (no sockets) N times per
 * round, rounds alternating; the figure is this process's CPU time (user +
 * system) per request, median of the rounds, including the batches' writes
 * (flushed inside each round). The database server's CPU is not in it (see
 * bench/request-log-overhead.ts for the end-to-end pair).
 *
 *   node --import tsx bench/request-log-inprocess.ts [postgres|pglite] [requests=500] [rounds=7]
 */
import { startTestApp } from "../test/helpers/app.ts";
import { asKey, createTenant } from "../test/helpers/fixtures.ts";
import { median } from "./report.ts";

const kind = (process.argv[2] ?? "postgres") as "postgres" | "pglite";
const n = Number(process.argv[3] ?? 500);
const rounds = Number(process.argv[4] ?? 7);
const env = { PATCHBAY_RATE_LIMIT_LIVE_PER_MINUTE: "1000000", PATCHBAY_RATE_LIMIT_LIVE_BURST: "1000000", LOG_LEVEL: "warn" };
const variants = [
  { name: "request log on", app: await startTestApp(kind, { env }), us: [] as number[] },
  { name: "request log off", app: await startTestApp(kind, { env: { ...env, PATCHBAY_REQUEST_LOG: "false" } }), us: [] as number[] },
];
const calls: Array<ReturnType<typeof asKey>> = [];
for (const v of variants) {
  const tenant = await createTenant(v.app);
  const call = asKey(v.app, tenant);
  await call("POST", "/v1/integrations/stripe");
  calls.push(call);
}
async function round(i: number, record: boolean) {
  const v = variants[i]!;
  const before = process.cpuUsage();
  for (let k = 0; k < n; k++) {
    const res = await calls[i]!("GET", "/v1/integrations/stripe");
    if (res.statusCode !== 200) throw new Error(res.body);
  }
  await v.app.services.requestLog.flush();
  const used = process.cpuUsage(before);
  if (record) v.us.push((used.user + used.system) / n);
}
await round(0, false);
await round(1, false);
for (let r = 0; r < rounds; r++) for (const i of r % 2 ? [1, 0] : [0, 1]) await round(i, true);
const [on, off] = variants.map((v) => median(v.us));
console.log(`${kind}: ${rounds} rounds of ${n} injected GET /v1/integrations/stripe per variant; this process's CPU µs per request, median (rounds)`);
for (const v of variants) console.log(`  ${v.name.padEnd(16)} ${median(v.us).toFixed(0).padStart(5)} µs  (${v.us.map((x) => x.toFixed(0)).join("/")})`);
console.log(`  on vs off: ${(((on! / off!) - 1) * 100).toFixed(1)}%`);
for (const v of variants) await v.app.close();
