/**
 * What Idempotency-Key costs: PATCH /v1/integrations/stripe req/s on one
 * server process over PostgreSQL, without the header, with a fresh key per
 * request (claim + execute + store) and with one key repeated (replay).
 *
 *   node --import tsx bench/idempotency-overhead.ts [seconds=5] [rounds=3] [connections=10]
 *
 * The variants run interleaved, round after round, and each figure is the
 * median of its rounds: on a shared machine, load drifts, and interleaving
 * spreads the drift over all three.
 *
 * Needs PostgreSQL at 127.0.0.1:5432 (as the tests do); makes and drops its own database.
 */
import { randomUUID } from "node:crypto";
import { ADMIN_TOKEN } from "../test/helpers/app.ts";
import { createTestDatabase } from "../test/helpers/databases.ts";
import { startTestServerProcess as startServerProcess } from "../test/helpers/process.ts";
import { median } from "./report.ts";

interface AutocannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}
type RawRequest = { headers?: Record<string, string> };
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
// autocannon ships no type declarations; this is the slice used here.
const autocannon = (await import("autocannon" as string)).default as Autocannon;

const seconds = Number(process.argv[2] ?? 5);
const rounds = Number(process.argv[3] ?? 3);
const connections = Number(process.argv[4] ?? 10);

const database = await createTestDatabase("postgres");
const server = await startServerProcess({
  DATABASE_URL: database.url!,
  LOG_LEVEL: "warn",
  PATCHBAY_RATE_LIMIT_LIVE_PER_MINUTE: "1000000",
  PATCHBAY_RATE_LIMIT_LIVE_BURST: "1000000",
});

try {
  const admin = (path: string, body: unknown) =>
    fetch(`${server.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.json());
  const entity = await admin("/admin/v1/entities", { name: "Bench" });
  const { key } = await admin(`/admin/v1/entities/${entity.id}/api-keys`, { name: "bench", mode: "live", scopes: ["integrations:read", "integrations:write"] });
  const auth = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  await fetch(`${server.url}/v1/integrations/stripe`, { method: "POST", headers: auth, body: "{}" });

  const run = (title: string, requests?: { setupRequest: (req: RawRequest) => RawRequest }[], extraHeaders: Record<string, string> = {}) =>
    autocannon({
      title,
      url: `${server.url}/v1/integrations/stripe`,
      method: "PATCH",
      headers: { ...auth, ...extraHeaders },
      body: JSON.stringify({ display_name: "Bench" }),
      connections,
      duration: seconds,
      ...(requests ? { requests } : {}),
    });

  // A warm-up so the first variant does not pay for JIT and pool start.
  await autocannon({ url: `${server.url}/v1/integrations/stripe`, method: "PATCH", headers: auth, body: '{"display_name":"Bench"}', connections, duration: 3 });

  const variants: { name: string; run: () => Promise<AutocannonResult>; results: AutocannonResult[] }[] = [
    { name: "no Idempotency-Key", run: () => run("plain"), results: [] },
    {
      name: "fresh key per request (claim, execute, store)",
      run: () => run("fresh", [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, "idempotency-key": randomUUID() } }) }]),
      results: [],
    },
    // One key per round: its first request executes, the rest replay it.
    { name: "one key repeated (replay)", run: () => run("replay", undefined, { "idempotency-key": randomUUID() }), results: [] },
  ];
  for (let round = 0; round < rounds; round++) for (const v of variants) v.results.push(await v.run());

  const rps = (v: (typeof variants)[number]) => median(v.results.map((r) => r.requests.average));
  const base = rps(variants[0]!);
  console.log(`PATCH /v1/integrations/stripe, ${connections} connections, ${rounds} rounds of ${seconds} s, one process, PostgreSQL; medians`);
  for (const v of variants) {
    const all = v.results.map((r) => r.requests.average.toFixed(0)).join("/");
    const p50 = median(v.results.map((r) => r.latency.p50));
    const p99 = median(v.results.map((r) => r.latency.p99));
    const non2xx = v.results.reduce((n, r) => n + r.non2xx + r.errors, 0);
    console.log(`${v.name.padEnd(48)} ${rps(v).toFixed(0).padStart(6)} req/s (${all})  p50 ${p50} ms  p99 ${p99} ms  non-2xx ${non2xx}  (${((rps(v) / base - 1) * 100).toFixed(1)}% vs no key)`);
  }
} finally {
  await server.stop();
  await database.close();
}
