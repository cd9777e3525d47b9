/**
 * What the API request log costs (issue 20, item 6; the bar: ≤ 5% of GET
 * throughput): GET /v1/integrations/stripe on two server processes, one with
 * the request log on (the default) and one with PATCHBAY_REQUEST_LOG=false,
 * each on its own database of the same kind, driven in alternating rounds in
 * the same run so both see the same machine noise.
 *
 *   node --import tsx bench/request-log-overhead.ts [seconds=5] [rounds=5] [connections=20] [kinds=postgres,pglite]
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

const seconds = Number(process.argv[2] ?? 5);
const rounds = Number(process.argv[3] ?? 5);
const connections = Number(process.argv[4] ?? 20);
const kinds = (process.argv[5] ?? "postgres,pglite").split(",") as Array<"postgres" | "pglite">;
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

for (const kind of kinds) {
  const on = await startVariant(kind, "request log on (default)", {});
  const off = await startVariant(kind, "request log off (PATCHBAY_REQUEST_LOG=false)", { PATCHBAY_REQUEST_LOG: "false" });
  try {
    // Warm-up: JIT, pool connections, caches.
    await drive(on, 3);
    await drive(off, 3);
    // Alternating order, so neither variant always runs second.
    for (let round = 0; round < rounds; round++) for (const v of round % 2 ? [off, on] : [on, off]) await measure(v);
    console.log(`\n${kind}: GET /v1/integrations/stripe, ${connections} connections, ${KEYS} keys, ${rounds} rounds of ${seconds} s, one process each, LOG_LEVEL=warn; medians`);
    const base = { rps: median(off.runs.map((r) => r.rps)), cpu: median(off.runs.map((r) => r.serverUs + (r.dbUs ?? 0))) };
    for (const v of [off, on]) {
      const rps = median(v.runs.map((r) => r.rps));
      const serverUs = median(v.runs.map((r) => r.serverUs));
      const dbUs = v.runs[0]!.dbUs === null ? null : median(v.runs.map((r) => r.dbUs!));
      const total = median(v.runs.map((r) => r.serverUs + (r.dbUs ?? 0)));
      const failures = v.runs.reduce((n, r) => n + r.failures, 0);
      console.log(
        `${v.name.padEnd(46)} ${rps.toFixed(0).padStart(6)} req/s (${v.runs.map((r) => r.rps.toFixed(0)).join("/")})  p50 ${median(v.runs.map((r) => r.p50))} ms  p99 ${median(v.runs.map((r) => r.p99))} ms  ` +
          `CPU/req ${serverUs.toFixed(0)}${dbUs === null ? "" : ` + ${dbUs.toFixed(0)}`} µs (${v.runs.map((r) => (r.serverUs + (r.dbUs ?? 0)).toFixed(0)).join("/")})  failed ${failures}` +
          (v === on ? `  → throughput ${((rps / base.rps - 1) * 100).toFixed(1)}%, CPU/req ${((total / base.cpu - 1) * 100).toFixed(1)}% vs off` : ""),
      );
    }
  } finally {
    for (const v of [on, off]) {
      await v.backends?.close();
      await v.server.stop();
      await v.database?.close();
    }
  }
}
