/**
 * A paired A/B of the proxied GET: another checkout's Patchbay (`base`, e.g. a
 * `git worktree` at an earlier commit with node_modules linked) and this
 * tree's (`main`) run side by side on PostgreSQL, each with its own fresh
 * database, with the bare forwarder, in alternating bursts of 50 connections
 * (the order flips every round). On a shared machine whose speed drifts by
 * tens of percent within minutes, the medians of many short interleaved bursts
 * compare two trees where two separate `npm run bench` runs cannot.
 *   node --import tsx bench/ab-proxy.ts <base-tree> [rounds=16] [seconds=2]
 * AB_ENV=NAME=value,… sets variables for `main` only (e.g. the cost of one feature);
 * AB_ENTITIES=N spreads the load over N entities' keys and connectors;
 * AB_KEYED_WRITE=both|base|main sends each entity's connector one PATCH with
 * an Idempotency-Key first (the full bench's write scenarios run before its
 * proxy scenario; a keyed write is what switches on Node's async context
 * tracking while it runs, see db/request-transaction.ts);
 * AB_CPU_PROF=DIR writes both Patchbay servers' `--cpu-prof` profiles there
 * (read them with bench/profile-summary.ts).
 */
import { execSync } from "node:child_process";
import { drive } from "./load.ts";
import { cpuMs } from "./cpu.ts";
import { killAllStarted, ROOT, startServer } from "./processes.ts";
import { generateMasterKey } from "../src/vault/key-ring.ts";
const [baseTree, roundsArg, secsArg] = process.argv.slice(2);
if (!baseTree) throw new Error("usage: node --import tsx bench/ab-proxy.ts <base-tree> [rounds] [seconds]");
const rounds = Number(roundsArg ?? 16), secs = Number(secsArg ?? 2);
/** AB_ENTITIES=50: that many entities, each with its key and Stripe connector (npm run bench uses 50); 1 by default. */
const entities = Number(process.env.AB_ENTITIES ?? 1);
const trees = { base: baseTree, main: ROOT };
/** AB_KEYED_WRITE=both|base|main: that side takes one PATCH with an Idempotency-Key per entity first, as the full bench's write scenarios do before the proxy's. */
const keyedWrite = process.env.AB_KEYED_WRITE;
const ADMIN = "pb_admin_bench_token_0123456789abcdef";
try {
  const fake = await startServer({ name: "fake", entry: "bench/proxy-servers.ts", env: { BENCH_ROLE: "fake" } });
  const fwd = await startServer({ name: "fwd", entry: "bench/proxy-servers.ts", env: { BENCH_ROLE: "forwarder", BENCH_TARGET: fake.url } });
  const sides: Record<string, { url: string; pid: number; keys: string[]; stop(): Promise<void> }> = {};
  for (const [name, tree] of Object.entries(trees)) {
    execSync(`cd ${tree} && node -e "import('./scripts/build.mjs').then(m=>m.ensureBuilt())"`);
    const db = `pb_ab_${name}_${process.pid}`;
    execSync(`psql -h 127.0.0.1 -U postgres -d postgres -qc "create database ${db}"`);
    const prof = process.env.AB_CPU_PROF;
    const s = await startServer({ name, entry: `${tree}/dist/patchbay.mjs`, nodeFlags: prof ? ["--cpu-prof", "--cpu-prof-dir", prof, "--cpu-prof-name", `${name}.cpuprofile`] : [], env: { DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${db}`, PATCHBAY_MASTER_KEYS: generateMasterKey(), PATCHBAY_ADMIN_TOKEN: ADMIN,
      PATCHBAY_PROVIDER_URL_STRIPE: fake.url, PATCHBAY_RATE_LIMIT_LIVE_PER_MINUTE: "1000000", PATCHBAY_RATE_LIMIT_LIVE_BURST: "1000000", PATCHBAY_JOBS: "false", ...(process.env.AB_ENV && name === "main" ? Object.fromEntries(process.env.AB_ENV.split(",").map((kv) => kv.split("="))) : {}) } });
    const admin = (path: string, b: unknown) => fetch(`${s.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify(b) }).then((r) => r.json() as Promise<Record<string, string>>);
    const keys: string[] = [];
    for (let k = 0; k < entities; k++) {
      const entity = await admin("/admin/v1/entities", { name: `bench ${k}` });
      const key = (await admin(`/admin/v1/entities/${entity.id}/api-keys`, { name: "bench", mode: "live", scopes: ["integrations:read", "integrations:write", "integrations:proxy"] })).key!;
      const as = (m: string, p: string, b: unknown) => fetch(`${s.url}${p}`, { method: m, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(b) });
      await as("POST", "/v1/integrations/stripe", { mode: "live" });
      await as("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_test_bench" });
      if (keyedWrite === "both" || keyedWrite === name) {
        const r = await fetch(`${s.url}/v1/integrations/stripe`, { method: "PATCH", headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "idempotency-key": `ab-${k}` }, body: "{}" });
        if (!r.ok) throw new Error(`keyed PATCH: ${r.status} ${await r.text()}`);
      }
      keys.push(key);
    }
    sides[name] = { url: s.url, pid: s.pid, keys, stop: s.stop };
  }
  const all = { fwd: { url: fwd.url, pid: fwd.pid, keys: [] as string[] }, ...sides };
  const res: Record<string, { rps: number[]; cpu: number[]; p50: number[] }> = {};
  const burst = async (name: string, dur: number) => {
    const s = all[name as keyof typeof all]!;
    const path = name === "fwd" ? "/v1/balance" : "/v1/integrations/stripe/proxy/v1/balance";
    // Connection i uses key i mod the number of entities (as npm run bench's proxy scenario does with 50).
    const headersOf = (i: number): Record<string, string> => (name === "fwd" ? {} : { authorization: `Bearer ${s.keys[i % s.keys.length]}` });
    const c0 = cpuMs(s.pid)!;
    const r = await drive({ url: s.url, connections: 50, durationSec: dur, requestsFor: (i) => [{ method: "GET", path, headers: headersOf(i) }] });
    const c1 = cpuMs(s.pid)!;
    return { rps: r.reqPerSec, cpuUs: ((c1 - c0) * 1000) / r.responses, p50: r.p50Ms, bad: r.responses - (r.statusCodes["200"] ?? 0) };
  };
  for (const name of Object.keys(all)) await burst(name, 2);
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 ? ["main", "fwd", "base"] : ["base", "fwd", "main"];
    for (const name of order) {
      const b = await burst(name, secs);
      const r = (res[name] ??= { rps: [], cpu: [], p50: [] });
      r.rps.push(b.rps);
      r.cpu.push(b.cpuUs);
      r.p50.push(b.p50);
      if (b.bad) console.log(`${name}: ${b.bad} non-200`);
    }
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  for (const [name, r] of Object.entries(res)) console.log(`${name.padEnd(5)} req/s median ${med(r.rps).toFixed(0)}  p50 median ${med(r.p50)} ms  CPU µs/req median ${med(r.cpu).toFixed(0)}  (${r.cpu.map((c) => c.toFixed(0)).join(" ")})`);
  // Each round's two bursts ran a few seconds apart: their ratio is the least drifted comparison.
  const paired = res.main!.cpu.map((c, i) => c / res.base!.cpu[i]!);
  console.log(`main's CPU per request over base's, per round: median ${med(paired).toFixed(2)} (main lower in ${paired.filter((p) => p < 1).length} of ${paired.length})`);
  // A graceful stop, so that --cpu-prof writes its profile.
  await Promise.all(Object.values(sides).map((s) => s.stop()));
  console.log(`ratio of medians: base ${(100 * med(res.base!.rps) / med(res.fwd!.rps)).toFixed(0)}%  main ${(100 * med(res.main!.rps) / med(res.fwd!.rps)).toFixed(0)}%`);
} finally {
  killAllStarted();
  execSync(`psql -h 127.0.0.1 -U postgres -d postgres -Atc "select datname from pg_database where datname like 'pb\\_ab\\_%\\_${process.pid}'" | while read d; do psql -h 127.0.0.1 -U postgres -d postgres -qc "drop database \\"$d\\" with (force)"; done`);
}
