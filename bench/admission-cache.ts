/**
 * What admitting keys (and proxied connectors) from memory saves: the
 * authenticated GET /v1/integrations/stripe on two server processes, one with
 * PATCHBAY_CACHE_TTL_MS=0 (every request: the admission statement, then the
 * read) and one with the default (the read; the admission statement about
 * once a second per key), each on its own PostgreSQL database, run
 * interleaved round after round. Reports req/s and CPU µs per request of the
 * server process and of its database's backends (the figure a busy machine
 * moves least), medians of the rounds.
 *
 *   node --import tsx bench/admission-cache.ts [seconds=5] [rounds=3] [connections=10] [keys=10] [get|proxy]
 *
 * `proxy`: the same for GET /v1/integrations/stripe/proxy/v1/balance to a
 * loopback fake provider (started here), the connector kept in memory too.
 *
 * Requests go round-robin over `keys` keys (of as many entities), so each key
 * sees 1/keys of the rate: the fewer requests a key makes per second, the
 * less a grant covers (below ~1 a second, nothing).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ADMIN_TOKEN } from "../test/helpers/app.ts";
import { createTestDatabase, type TestDatabase } from "../test/helpers/databases.ts";
import { startTestServerProcess, type ServerProcess } from "../test/helpers/process.ts";
import { BackendCpu, backendCpuDelta, cpuMs } from "./cpu.ts";
import { median } from "./report.ts";

interface AutocannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  duration: number;
}
type RawRequest = { headers?: Record<string, string> };
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = (await import("autocannon" as string)).default as Autocannon;

const seconds = Number(process.argv[2] ?? 5);
const rounds = Number(process.argv[3] ?? 3);
const connections = Number(process.argv[4] ?? 10);
const keyCount = Number(process.argv[5] ?? 10);
const proxy = process.argv[6] === "proxy";
const path = proxy ? "/v1/integrations/stripe/proxy/v1/balance" : "/v1/integrations/stripe";
const fakeBody = JSON.stringify({ object: "balance", available: [{ amount: 1000, currency: "usd" }], livemode: false });
const fake = http.createServer((_req, res) => {
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(fakeBody) });
  res.end(fakeBody);
});
await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
const fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
const PG_ADMIN_URL = process.env.PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

interface Variant {
  name: string;
  database: TestDatabase;
  server: ServerProcess;
  keys: string[];
  backends: BackendCpu;
  results: { rps: number; p50: number; p99: number; serverUs: number; dbUs: number; failed: number }[];
}

async function variant(name: string, env: Record<string, string>): Promise<Variant> {
  const database = await createTestDatabase("postgres");
  const server = await startTestServerProcess({
    DATABASE_URL: database.url!,
    LOG_LEVEL: "warn",
    PATCHBAY_RATE_LIMIT_LIVE_PER_MINUTE: "1000000",
    PATCHBAY_RATE_LIMIT_LIVE_BURST: "1000000",
    PATCHBAY_PROVIDER_URL_STRIPE: fakeUrl,
    ...env,
  });
  const admin = (path: string, body: unknown) =>
    fetch(`${server.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.json());
  const keys: string[] = [];
  for (let i = 0; i < keyCount; i++) {
    const entity = await admin("/admin/v1/entities", { name: `Bench ${i}` });
    const { key } = await admin(`/admin/v1/entities/${entity.id}/api-keys`, { name: "bench", mode: "live", scopes: ["integrations:read", "integrations:write", "integrations:proxy"] });
    const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
    await fetch(`${server.url}/v1/integrations/stripe`, { method: "POST", headers, body: JSON.stringify({ mode: "live" }) });
    await fetch(`${server.url}/v1/integrations/stripe/credentials`, { method: "PUT", headers, body: JSON.stringify({ secret_key: `sk_live_bench_${i}` }) });
    keys.push(key);
  }
  const dbName = new URL(database.url!).pathname.slice(1);
  return { name, database, server, keys, backends: new BackendCpu(PG_ADMIN_URL, dbName), results: [] };
}

async function round(v: Variant): Promise<void> {
  let next = 0;
  const requests = [{ setupRequest: (req: RawRequest) => ({ ...req, headers: { ...req.headers, authorization: `Bearer ${v.keys[next++ % v.keys.length]}` } }) }];
  // Warm-up (JIT, pool connections), unmeasured.
  await autocannon({ url: `${v.server.url}${path}`, connections, duration: 1, requests });
  const pid = v.server.child.pid!;
  const cpuBefore = cpuMs(pid)!;
  const dbBefore = (await v.backends.snapshot()) ?? new Map();
  const r = await autocannon({ url: `${v.server.url}${path}`, connections, duration: seconds, requests });
  const cpuAfter = cpuMs(pid)!;
  const dbAfter = (await v.backends.snapshot()) ?? new Map();
  const total = r.requests.average * seconds;
  v.results.push({
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    serverUs: ((cpuAfter - cpuBefore) * 1000) / total,
    dbUs: (backendCpuDelta(dbBefore, dbAfter) * 1000) / total,
    failed: r.non2xx + r.errors,
  });
}


const variants = [await variant("PATCHBAY_CACHE_TTL_MS=0 (admission statement on every request)", { PATCHBAY_CACHE_TTL_MS: "0" }), await variant("default (admitted from memory, 1 s)", {})];
try {
  for (let i = 0; i < rounds; i++) for (const v of variants) await round(v);
  console.log(`GET ${path}, ${connections} connections, ${keyCount} keys round-robin, ${seconds} s × ${rounds} rounds (medians)\n`);
  console.log("| variant | req/s | p50 ms | p99 ms | CPU µs/req server + db | failed |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const v of variants) {
    const m = (f: (r: Variant["results"][number]) => number) => median(v.results.map(f));
    console.log(`| ${v.name} | ${Math.round(m((r) => r.rps))} | ${m((r) => r.p50)} | ${m((r) => r.p99)} | ${Math.round(m((r) => r.serverUs))} + ${Math.round(m((r) => r.dbUs))} | ${v.results.reduce((a, r) => a + r.failed, 0)} |`);
  }
  console.log("\nrounds:", JSON.stringify(variants.map((v) => ({ name: v.name, rounds: v.results.map((r) => ({ ...r, serverUs: Math.round(r.serverUs), dbUs: Math.round(r.dbUs) })) }))));
} finally {
  for (const v of variants) {
    await v.backends.close();
    await v.server.stop();
    await v.database.close();
  }
  fake.close();
}
