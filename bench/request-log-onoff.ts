/**
 * What the API request log costs a GET under load (issue 20, item 6; the bar:
 * ≤ 5% of GET throughput), measured in one server process so that nothing
 * but the log differs: this process is the server (built as src/main.ts
 * builds it, on its own database — PostgreSQL, or the embedded one in this
 * process — LOG_LEVEL=warn), a child process
 * runs the load (autocannon) without a break, and the log is switched on and
 * off every `window` seconds — the log recording (the default), then its
 * record() made a no-op — same JIT state, same pool, same rows.
 *
 *   node --import tsx bench/request-log-onoff.ts [window-seconds=1] [pairs=60] [connections=20] [postgres|pglite]
 *
 * This machine's speed swings by tens of percent from one few-second stretch
 * to the next (whatever runs: two server processes started alike differ as
 * much, bench/request-log-overhead.ts), which hides a 5% effect unless the
 * two variants are compared within the same second or two. Each pair of
 * adjacent windows (on, off; their order alternating) gives one on/off ratio
 * of requests answered and one of CPU per request (this process + its
 * PostgreSQL backends; the embedded database's CPU is this process's); the
 * figures are the medians over the pairs. An on
 * window ends by writing what it recorded (its flush is counted in it). The
 * no-op still runs the onResponse hook itself (a function call): that much of
 * the log's cost is not in the difference.
 *
 * Needs PostgreSQL at 127.0.0.1:5432 (as the tests do); makes and drops its own database.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { buildApp } from "../src/app.ts";
import { EmbeddedAdmission } from "../src/db/embedded-admission.ts";
import { createServices } from "../src/compose.ts";
import { loadConfig } from "../src/config.ts";
import { systemClock } from "../src/kernel/clock.ts";
import { loggerOptions } from "../src/logging.ts";
import { ADMIN_TOKEN } from "../test/helpers/app.ts";
import { TEST_MASTER_KEYS } from "../test/helpers/process.ts";
import { createTestDatabase, PG_ADMIN_URL } from "../test/helpers/databases.ts";
import { BackendCpu, backendCpuDelta } from "./cpu.ts";
import { loggedRowCost } from "./request-log-cost.ts";
import { FLUSH_ROWS } from "../src/services/request-logs.ts";
import { median } from "./report.ts";

const windowSec = Number(process.argv[2] ?? 1);
const pairs = Number(process.argv[3] ?? 60);
const connections = Number(process.argv[4] ?? 20);
const kind = (process.argv[5] ?? "postgres") as "postgres" | "pglite";
const KEYS = 4;


const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "patchbay-bench-"));
const database = await createTestDatabase(kind);
const config = loadConfig({
  ...(kind === "postgres" ? { DATABASE_URL: database.url! } : {}),
  PATCHBAY_DATA_DIR: dataDir,
  PATCHBAY_ADMIN_TOKEN: ADMIN_TOKEN,
  PATCHBAY_JOBS: "false",
  PATCHBAY_MASTER_KEYS: TEST_MASTER_KEYS,
  LOG_LEVEL: "warn",
  PATCHBAY_RATE_LIMIT_LIVE_PER_MINUTE: "1000000",
  PATCHBAY_RATE_LIMIT_LIVE_BURST: "1000000",
});
const logger = pino(loggerOptions("warn") as pino.LoggerOptions, pino.destination({ fd: 2, sync: false }));
const services = createServices({ db: database.db, clock: systemClock, config, logger });
// The embedded database answers past its bounded line at once, as src/main.ts sets it up.
const admission = kind === "pglite" ? new EmbeddedAdmission({ queueLimit: config.embeddedQueueLimit }) : undefined;
const app = await buildApp({ config, db: database.db, services, adminToken: ADMIN_TOKEN, poolStats: database.poolStats, admission });
await app.listen({ host: "127.0.0.1", port: 0 });
const address = app.server.address();
const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;

const admin = (p: string, body: unknown) =>
  fetch(`${url}${p}`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.json());
const entity = await admin("/admin/v1/entities", { name: "Bench" });
const keys: string[] = [];
for (let i = 0; i < KEYS; i++) keys.push((await admin(`/admin/v1/entities/${entity.id}/api-keys`, { name: `bench ${i}`, mode: "live", scopes: ["integrations:read", "integrations:write"] })).key);
await fetch(`${url}/v1/integrations/stripe`, { method: "POST", headers: { authorization: `Bearer ${keys[0]}`, "content-type": "application/json" }, body: "{}" });

// The load generator in its own process (its CPU is not this process's), running through all the windows.
const LOAD = `
const autocannon = require("autocannon");
const [url, connections, duration, keys] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3]), JSON.parse(process.argv[4])];
let next = 0;
autocannon({ url, connections, duration, timeout: 10,
  setupClient: (c) => c.setRequests([{ method: "GET", path: "/v1/integrations/stripe", headers: { authorization: "Bearer " + keys[next++ % keys.length] } }]) },
  (err, r) => { if (err) throw err; process.stdout.write(JSON.stringify({ ok: r["2xx"], other: r.non2xx + r.errors + r.timeouts })); });
`;
function load(durationSec: number): Promise<{ ok: number; other: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", LOAD, url, String(connections), String(durationSec), JSON.stringify(keys)], { cwd: process.cwd(), stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited ${code}`))));
  });
}

const log = services.requestLog;
const record = log.record;
const noop: typeof record = () => {};
const backends = kind === "postgres" ? new BackendCpu(PG_ADMIN_URL, new URL(database.url!).pathname.slice(1)) : null;
let answered = 0;
app.server.on("request", () => answered++);

interface Window {
  rps: number;
  cpuUs: number;
  serverUs: number;
  dbUs: number;
}
async function window(on: boolean): Promise<Window> {
  log.record = on ? record : noop;
  const db0 = await backends?.snapshot();
  const c0 = process.cpuUsage();
  const n0 = answered;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, windowSec * 1000));
  // What an on window recorded is written before it ends, and counted in it.
  if (on) await log.flush();
  const requests = answered - n0;
  const elapsed = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const db1 = await backends?.snapshot();
  const serverUs = (c.user + c.system) / requests;
  const dbUs = db0 && db1 ? (backendCpuDelta(db0, db1) * 1000) / requests : 0;
  return { rps: requests / elapsed, serverUs, dbUs, cpuUs: serverUs + dbUs };
}

const quartiles = (xs: number[]): [number, number] => {
  const s = [...xs].sort((a, b) => a - b);
  return [s[Math.floor(0.25 * s.length)]!, s[Math.min(s.length - 1, Math.floor(0.75 * s.length))]!];
};
const pct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}%`;

try {
  const warmupSec = 4;
  const running = load(Math.ceil(warmupSec + pairs * 2 * (windowSec + 0.1) + 3));
  // Warm-up: JIT, pool connections, the admission grants.
  await new Promise((r) => setTimeout(r, warmupSec * 1000));
  const ons: Window[] = [];
  const offs: Window[] = [];
  for (let p = 0; p < pairs; p++) {
    const [a, b] = p % 2 ? [false, true] : [true, false];
    const first = await window(a);
    const second = await window(b);
    const [on, off] = a ? [first, second] : [second, first];
    ons.push(on);
    offs.push(off);
  }
  log.record = record;
  const total = await running;
  const rpsRatios = ons.map((on, i) => on.rps / offs[i]!.rps - 1);
  const cpuRatios = ons.map((on, i) => on.cpuUs / offs[i]!.cpuUs - 1);
  const rq = quartiles(rpsRatios);
  const cq = quartiles(cpuRatios);
  console.log(
    `GET /v1/integrations/stripe, one server process (${kind === "postgres" ? "PostgreSQL" : "embedded database"}), ${connections} connections, ${KEYS} keys, ${pairs} pairs of ${windowSec} s windows under one unbroken load, LOG_LEVEL=warn; medians over the pairs`,
  );
  console.log(`log off (record() a no-op)  ${median(offs.map((r) => r.rps)).toFixed(0)} req/s  CPU/req ${median(offs.map((r) => r.serverUs)).toFixed(0)} + ${median(offs.map((r) => r.dbUs)).toFixed(0)} µs`);
  console.log(`log on (default)            ${median(ons.map((r) => r.rps)).toFixed(0)} req/s  CPU/req ${median(ons.map((r) => r.serverUs)).toFixed(0)} + ${median(ons.map((r) => r.dbUs)).toFixed(0)} µs`);
  console.log(
    `on vs off, median of the pairs: throughput ${pct(median(rpsRatios))} (middle half of the pairs: ${pct(rq[0])} to ${pct(rq[1])}), ` +
      `CPU per request (server + database) ${pct(median(cpuRatios))} (middle half: ${pct(cq[0])} to ${pct(cq[1])}); ${total.other} non-2xx of ${total.ok + total.other}`,
  );

  // The same cost another way: the log's own work in this process measured alone (batches of the size the load
  // made), plus what the database spent more per request in the pairs, as a share of all the CPU time the machine
  // gave each GET (its CPUs × the window's seconds ÷ its requests) — the load generator's and the kernel's included,
  // since throughput here is what the two CPUs can do.
  const dbDelta = median(ons.map((on, i) => on.dbUs - offs[i]!.dbUs));
  const perBatch = Math.min(FLUSH_ROWS, Math.round(median(ons.map((r) => r.rps))));
  const alone = await loggedRowCost(kind, perBatch, KEYS);
  const machineUs = (os.availableParallelism() * 1e6) / median(offs.map((r) => r.rps));
  const share = (alone.nodeUs + dbDelta) / machineUs;
  console.log(
    `the log's cost per request: ${alone.nodeUs.toFixed(1)} µs in the server (its own work alone, batches of ${perBatch}` +
      `${kind === "pglite" ? ", the embedded database's included" : ""}) + ${dbDelta.toFixed(1)} µs database ` +
      `(median of the pairs' differences; ${alone.dbUs === null ? "–" : alone.dbUs.toFixed(1)} µs alone) = ${pct(share)} of the ${machineUs.toFixed(0)} µs of machine CPU per GET ` +
      `(${os.availableParallelism()} CPUs at the log-off windows' median req/s)`,
  );
  console.log(`the bar (≤ 5% of GET throughput): ${median(rpsRatios) >= -0.05 && share <= 0.05 ? "met" : "not met"} by both figures`);
} finally {
  log.record = record;
  await backends?.close();
  await app.close();
  await database.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
