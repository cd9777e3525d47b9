import { generateMasterKey } from "../src/vault/key-ring.ts";
import { drive } from "./load.ts";
import { killAllStarted, startServer } from "./processes.ts";
// @ts-expect-error: a plain ES module without type declarations
import { ensureBuilt } from "../scripts/build.mjs";

/**
 * The proxy bench (issue 15): a GET sent straight to a loopback fake
 * provider, through a bare Fastify + undici forwarder, and through
 * Patchbay's proxy (embedded database, a Stripe connector). Same machine,
 * same run, 50 connections. `node --import tsx bench/proxy.ts [seconds]`.
 */
const seconds = Number(process.argv[2] ?? 10);
const connections = 50;
const ADMIN = "pb_admin_bench_token_0123456789abcdef";

await ensureBuilt();
try {
  const fake = await startServer({ name: "fake provider", entry: "bench/proxy-servers.ts", env: { BENCH_ROLE: "fake" } });
  const forwarder = await startServer({ name: "bare forwarder", entry: "bench/proxy-servers.ts", env: { BENCH_ROLE: "forwarder", BENCH_TARGET: fake.url } });
  const dataDir = (await import("node:fs")).mkdtempSync("/tmp/patchbay-proxy-bench-");
  const patchbay = await startServer({
    name: "patchbay",
    entry: "scripts/start.mjs",
    nodeFlags: process.env.BENCH_CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", process.env.BENCH_CPU_PROF] : [],
    env: {
      PATCHBAY_DATA_DIR: dataDir,
      PATCHBAY_ADMIN_TOKEN: ADMIN,
      PATCHBAY_PROVIDER_URL_STRIPE: fake.url,
      PATCHBAY_RATE_LIMIT_LIVE_PER_MINUTE: "1000000",
      PATCHBAY_RATE_LIMIT_LIVE_BURST: "1000000",
      PATCHBAY_JOBS: "false",
      LOG_LEVEL: "warn",
      // DATABASE_URL=postgres://… (a fresh database) measures on PostgreSQL; the embedded database otherwise.
      ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL, PATCHBAY_MASTER_KEYS: generateMasterKey() } : {}),
    },
  });
  const admin = (path: string, body: unknown) =>
    fetch(`${patchbay.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<Record<string, string>>);
  const entity = await admin("/admin/v1/entities", { name: "bench" });
  const key = (await admin(`/admin/v1/entities/${entity.id}/api-keys`, { name: "bench", mode: "live", scopes: ["integrations:read", "integrations:write", "integrations:proxy"] })).key!;
  const as = (method: string, path: string, body: unknown) => fetch(`${patchbay.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  await as("POST", "/v1/integrations/stripe", { mode: "live" });
  await as("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_test_bench" });

  const targets: { name: string; url: string; path: string; headers: Record<string, string>; rss: typeof fake.rss }[] = [
    { name: "direct to the fake", url: fake.url, path: "/v1/balance", headers: {}, rss: fake.rss },
    { name: "bare Fastify + undici", url: forwarder.url, path: "/v1/balance", headers: {}, rss: forwarder.rss },
    { name: "Patchbay proxy", url: patchbay.url, path: "/v1/integrations/stripe/proxy/v1/balance", headers: { authorization: `Bearer ${key}` }, rss: patchbay.rss },
  ];
  const results = [];
  for (const t of targets) {
    await drive({ url: t.url, connections, durationSec: 3, requestsFor: () => [{ method: "GET", path: t.path, headers: t.headers }] });
    const r = await drive({ url: t.url, connections, durationSec: seconds, requestsFor: () => [{ method: "GET", path: t.path, headers: t.headers }], rss: t.rss });
    results.push({ ...t, r });
    console.log(`${t.name.padEnd(24)} ${r.reqPerSec.toFixed(0).padStart(7)} req/s  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  peak RSS ${r.peakRssMb?.toFixed(0) ?? "–"} MB  non-2xx ${r.responses - Math.round(r.reqPerSec * seconds)}`);
  }
  const [, bare, pb] = results;
  console.log(`Patchbay / bare forwarder: ${((pb!.r.reqPerSec / bare!.r.reqPerSec) * 100).toFixed(0)} % of req/s; p50 +${(pb!.r.p50Ms - bare!.r.p50Ms).toFixed(1)} ms`);
  for (const s of [patchbay, forwarder, fake]) await s.stop();
} finally {
  killAllStarted();
}
