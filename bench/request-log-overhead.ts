/**
 * What the API request log costs (issue 20, item 6; the bar: ≤ 5% of GET
 * throughput): GET /v1/integrations/stripe on two server processes, one with
 * the request log on (the default) and one with PATCHBAY_REQUEST_LOG=false,
 * each on its own database of the same kind, driven in alternating rounds in
 * the same run so both see the same machine noise.
 *
 *   node --import tsx bench/request-log-overhead.ts [seconds=5] [rounds=5] [connections=20] [kinds=postgres,pglite] [pairs=3]
 *
 * Two processes started alike differ by several percent whatever they run,
 * so the comparison is made on `pairs` pairs of fresh processes, each pair
 * driven in alternating rounds; the headline is the median over all rounds.
 *
 * Reported per variant: the median req/s, p50/p99, and the median CPU time
 * per request of the server process (+ its PostgreSQL backends): CPU per
 * request barely moves when other work shares the machine, req/s does.
 * Needs PostgreSQL at 127.0.0.1:5432 (as the tests do); makes and drops its own databases.
 */
import autocannon from "autocannon";
import { ADMIN_TOKEN } from "../test/helpers/app.ts";
import { createTestDatabase, PG_ADMIN_URL, type TestDatabase } from "../test/helpers/databases.ts";
import { startTestServerProcess, type ServerProcess } from "../test/helpers/process.ts";
import { BackendCpu, backendCpuDelta, cpuMs } from "./cpu.ts";
import { loggedRowCost } from "./request-log-cost.ts";
import { FLUSH_ROWS } from "../src/services/request-logs.ts";
import { median } from "./report.ts";

const seconds = Number(process.argv[2] ?? 5);
const rounds = Number(process.argv[3] ?? 5);
const connections = Number(process.argv[4] ?? 20);
const kinds = (process.argv[5] ?? "postgres,pglite").split(",") as Array<"postgres" | "pglite">;
const pairs = Number(process.argv[6] ?? 3);
const KEYS = 4;

interface Variant {
  name: string;
  server: ServerProcess;
  database: TestDatabase | null;
  backends: BackendCpu | null;
  keys: string[];
  runs: Array<{ rps: number; p50: number; p99: number; serverUs: number; dbUs: number | null; failures: number }>;
}

async function startVariant(kind: "postgres" | "pglite", name: string, env: Record<string, string>): Promise<Variant> {
  const database = kind === "postgres" ? await createTestDatabase("postgres", { poolSize: 1 }) : null;
  const server = await startTestServerProcess({
    ...(database ? { DATABASE_URL: database.url! } : {}),
    LOG_LEVEL: "warn",
    PATCHBAY_RATE_LIMIT_LIVE_PER_MINUTE: "1000000",
    PATCHBAY_RATE_LIMIT_LIVE_BURST: "1000000",
    ...env,
  });
  const admin = (path: string, body: unknown) =>
    fetch(`${server.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.json());
  const entity = await admin("/admin/v1/entities", { name: "Bench" });
  const keys: string[] = [];
  for (let i = 0; i < KEYS; i++) keys.push((await admin(`/admin/v1/entities/${entity.id}/api-keys`, { name: `bench ${i}`, mode: "live", scopes: ["integrations:read", "integrations:write"] })).key);
  await fetch(`${server.url}/v1/integrations/stripe`, { method: "POST", headers: { authorization: `Bearer ${keys[0]}`, "content-type": "application/json" }, body: "{}" });
  const dbName = database ? new URL(database.url!).pathname.slice(1) : null;
  return { name, server, database, backends: dbName ? new BackendCpu(PG_ADMIN_URL, dbName) : null, keys, runs: [] };
}

async function drive(v: Variant, durationSec: number) {
  let next = 0;
  return autocannon({
    url: v.server.url,
    connections,
    duration: durationSec,
    timeout: 10,
    setupClient: (client) => client.setRequests([{ method: "GET", path: "/v1/integrations/stripe", headers: { authorization: `Bearer ${v.keys[next++ % KEYS]}` } }]),
  });
}

async function measure(v: Variant): Promise<void> {
  const pid = v.server.child.pid!;
  const cpuBefore = cpuMs(pid);
  const dbBefore = await v.backends?.snapshot();
  const r = await drive(v, seconds);
  const cpuAfter = cpuMs(pid);
  const dbAfter = await v.backends?.snapshot();
  const responses = r["2xx"] + r.non2xx;
  v.runs.push({
    rps: r["2xx"] / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    serverUs: ((cpuAfter! - cpuBefore!) * 1000) / responses,
    dbUs: dbBefore && dbAfter ? (backendCpuDelta(dbBefore, dbAfter) * 1000) / responses : null,
    failures: r.non2xx + r.errors + r.timeouts,
  });
}


const pct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}%`;

for (const kind of kinds) {
  // Two server processes differ by a few percent whatever they run (where their threads and backends land on
  // the two CPUs): so each pair of processes is started afresh, `pairs` times, the two started in turn first.
  const all: { on: Variant["runs"]; off: Variant["runs"] } = { on: [], off: [] };
  const pairRatios: number[] = [];
  for (let pair = 0; pair < pairs; pair++) {
    const start = () => [
      () => startVariant(kind, "request log on (default)", {}),
      () => startVariant(kind, "request log off (PATCHBAY_REQUEST_LOG=false)", { PATCHBAY_REQUEST_LOG: "false" }),
    ];
    const [first, second] = pair % 2 ? start().reverse() : start();
    const a = await first!();
    const b = await second!();
    const [on, off] = pair % 2 ? [b, a] : [a, b];
    try {
      // Warm-up: JIT, pool connections, caches.
      await drive(on, 3);
      await drive(off, 3);
      // Alternating order, so neither variant always runs second.
      for (let round = 0; round < rounds; round++) for (const v of round % 2 ? [off, on] : [on, off]) await measure(v);
      const ratios = on.runs.map((r, i) => r.rps / off.runs[i]!.rps - 1);
      pairRatios.push(median(ratios));
      console.log(`${kind} pair ${pair + 1}: off ${off.runs.map((r) => r.rps.toFixed(0)).join("/")} req/s, on ${on.runs.map((r) => r.rps.toFixed(0)).join("/")} req/s; rounds on vs off ${ratios.map(pct).join(" ")}`);
      all.on.push(...on.runs);
      all.off.push(...off.runs);
    } finally {
      for (const v of [on, off]) {
        await v.backends?.close();
        await v.server.stop();
        await v.database?.close();
      }
    }
  }
  console.log(`\n${kind}: GET /v1/integrations/stripe, ${connections} connections, ${KEYS} keys, ${pairs} pairs of fresh processes × ${rounds} rounds of ${seconds} s, LOG_LEVEL=warn; medians over all rounds`);
  const cpu = (r: Variant["runs"][number]) => r.serverUs + (r.dbUs ?? 0);
  const base = { rps: median(all.off.map((r) => r.rps)), cpu: median(all.off.map(cpu)) };
  for (const [name, runs] of [["request log off (PATCHBAY_REQUEST_LOG=false)", all.off], ["request log on (default)", all.on]] as const) {
    const rps = median(runs.map((r) => r.rps));
    const dbUs = runs[0]!.dbUs === null ? null : median(runs.map((r) => r.dbUs!));
    const failures = runs.reduce((n, r) => n + r.failures, 0);
    console.log(
      `${name.padEnd(46)} ${rps.toFixed(0).padStart(6)} req/s  p50 ${median(runs.map((r) => r.p50))} ms  p99 ${median(runs.map((r) => r.p99))} ms  ` +
        `CPU/req ${median(runs.map((r) => r.serverUs)).toFixed(0)}${dbUs === null ? "" : ` + ${dbUs.toFixed(0)}`} µs  failed ${failures}` +
        (runs === all.on ? `  → throughput ${pct(rps / base.rps - 1)}, CPU/req ${pct(median(runs.map(cpu)) / base.cpu - 1)} vs off` : ""),
    );
  }
  console.log(`per pair of processes (median of its rounds' on/off ratios): ${pairRatios.map(pct).join(" ")}; median ${pct(median(pairRatios))}`);

  // The log's own work, where machine noise cannot blur it: the same service records and writes batches of the
  // size the GETs above made (one flush a second), and the CPU it takes — this process and the database's — is
  // set against the CPU one GET took in the runs without the log.
  // A batch is a second's requests, or FLUSH_ROWS if those come sooner (src/services/request-logs.ts).
  const perFlush = Math.min(FLUSH_ROWS, Math.max(1, Math.round(median(all.on.map((r) => r.rps)))));
  const row = await loggedRowCost(kind, perFlush);
  const getUs = base.cpu;
  console.log(
    `the log's own cost, ${perFlush} requests per batch: ${row.nodeUs.toFixed(1)} µs this process${row.dbUs === null ? "" : ` + ${row.dbUs.toFixed(1)} µs database`} per logged request ` +
      `= ${pct((row.nodeUs + (row.dbUs ?? 0)) / getUs)} of a GET's ${getUs.toFixed(0)} µs (server${kind === "postgres" ? " + database" : ""}, log off, median above)`,
  );
}
