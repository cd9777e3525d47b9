/**
 * `npm run bench`: seeds a dataset, starts Patchbay (PostgreSQL, then the
 * embedded database) and the bare baselines as child processes, drives them
 * over loopback with autocannon, and writes bench/results/<date>.md.
 * Not part of `npm test`. Needs PostgreSQL on 127.0.0.1:5432 (trust auth).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { sql } from "kysely";
import { openDatabase, type Database } from "../src/db/index.ts";
import { migrate } from "../src/db/migrate.ts";
import { parseMasterKeys } from "../src/config.ts";
import { KeyRing } from "../src/vault/envelope.ts";
import { generateMasterKey } from "../src/vault/key-ring.ts";
// @ts-expect-error: a plain ES module without type declarations
import { ensureBuilt } from "../scripts/build.mjs";
import { BackendCpu, backendCpuDelta, cpuMs } from "./cpu.ts";
import { insertEntitiesWithConnectors, seedDataset, seedListSubject, type Dataset } from "./dataset.ts";
import { drive } from "./load.ts";
import { parseOptions, USAGE, type BenchOptions } from "./options.ts";
import { explainList, explainRequestQueries, planSummary } from "./plans.ts";
import { createBenchDatabase, postgresVersion } from "./postgres.ts";
import { killAllStarted, ROOT, startServer, type ServerUnderTest, type StartOptions } from "./processes.ts";
import {
  checkTargets,
  FLOOR_HEADING,
  FLOOR_NOTE,
  floorTable,
  measurementTable,
  scalingTable,
  startupTable,
  summarySection,
  targetTable,
  updateBenchmarks,
  type Measurement,
  type ScalingPoint,
  type StartupFigure,
  type Target,
} from "./report.ts";
import { baselineScenarios, listScenario, patchbayScenarios, proxyBaselineScenarios, type Scenario } from "./scenarios.ts";

const ENTITIES = 1_000;
const CONNECTORS_PER_ENTITY = 10;
const SCALING_SIZES = [10, 1_000, 100_000];

const parsed = parseOptions(process.argv.slice(2));
if (parsed === "help") {
  process.stdout.write(USAGE);
  process.exit(0);
}
const options: BenchOptions = parsed;

const began = performance.now();
// Built once up front, so no measured start-up includes the build.
await ensureBuilt();
const log = (msg: string) => process.stderr.write(`[bench ${((performance.now() - began) / 1000).toFixed(0).padStart(3)} s] ${msg}\n`);

/** One master key for the run: the seeding seals with it, every Patchbay process opens with it. */
const MASTER_KEYS = generateMasterKey();
const keyRing = new KeyRing(parseMasterKeys(MASTER_KEYS));

const rows: Measurement[] = [];
const startups: StartupFigure[] = [];
const plans: Record<string, Record<string, string>> = {};
const scaling: ScalingPoint[] = [];
const versions: Record<string, string> = {};
let seeded: Dataset | null = null;

const cleanups: Array<() => Promise<void> | void> = [];
async function cleanUp(): Promise<void> {
  killAllStarted();
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch (e) {
      log(`clean-up step failed: ${(e as Error).message}`);
    }
  }
}
process.on("SIGINT", () => {
  log("interrupted; cleaning up");
  void cleanUp().finally(() => process.exit(130));
});

/** Patchbay as `npm start` runs it (scripts/start.mjs: the compiled bundle), with limits that never throttle the bench. */
function patchbay(name: string, env: Record<string, string>): StartOptions {
  return {
    name,
    entry: "scripts/start.mjs",
    env: {
      LOG_LEVEL: options.logLevel,
      PATCHBAY_MASTER_KEYS: MASTER_KEYS,
      PATCHBAY_ADMIN_TOKEN: `pb_admin_bench_${randomBytes(16).toString("hex")}`,
      PATCHBAY_RATE_LIMIT_LIVE_PER_MINUTE: "1000000",
      PATCHBAY_RATE_LIMIT_LIVE_BURST: "1000000",
      PATCHBAY_RATE_LIMIT_TEST_PER_MINUTE: "1000000",
      PATCHBAY_RATE_LIMIT_TEST_BURST: "1000000",
      // The proxy scenario's provider: the loopback fake (started once per run, before any Patchbay).
      ...(proxyPeers ? { PATCHBAY_PROVIDER_URL_STRIPE: proxyPeers.fake.url } : {}),
      ...options.patchbayEnv,
      ...env,
    },
    nodeFlags: options.cpuProfDir ? ["--cpu-prof", "--cpu-prof-dir", path.resolve(options.cpuProfDir)] : [],
  };
}

/** The proxy scenario's peers (issue 15): the fake provider and the bare forwarder to it, one process each. */
let proxyPeers: { fake: ServerUnderTest; forwarder: ServerUnderTest } | null = null;
async function startProxyPeers(): Promise<void> {
  const fake = await startServer({ name: "fake provider", entry: "bench/proxy-servers.ts", env: { BENCH_ROLE: "fake" } });
  const forwarder = await startServer({ name: "bare forwarder", entry: "bench/proxy-servers.ts", env: { BENCH_ROLE: "forwarder", BENCH_TARGET: fake.url } });
  proxyPeers = { fake, forwarder };
}

const wanted = (s: Scenario) => options.only.length === 0 || options.only.includes(s.id);

async function measure(server: ServerUnderTest, scenario: Scenario, target: Target, backends: BackendCpu | null): Promise<Measurement> {
  const load = { url: server.url, connections: options.connections, requestsFor: scenario.requestsFor };
  if (options.warmupSec > 0) await drive({ ...load, durationSec: options.warmupSec });
  const cpuBefore = cpuMs(server.pid);
  const dbBefore = await backends?.snapshot();
  const r = await drive({ ...load, durationSec: options.durationSec, rss: server.rss });
  const cpuAfter = cpuMs(server.pid);
  // A server that went away mid-run (a crash, or a signal from outside) would otherwise leave rows of zeros.
  const ended = server.ended();
  if (ended) throw new Error(`${scenario.label}: ${ended}`);
  const dbAfter = await backends?.snapshot();
  const perResponse = (ms: number) => (r.responses > 0 ? (ms * 1000) / r.responses : NaN);
  const serverCpuUs = cpuBefore !== null && cpuAfter !== null ? perResponse(cpuAfter - cpuBefore) : null;
  const dbCpuUs = dbBefore && dbAfter ? perResponse(backendCpuDelta(dbBefore, dbAfter)) : null;
  log(
    `  ${target.padEnd(8)} ${scenario.label.padEnd(36)} ${r.reqPerSec.toFixed(0).padStart(6)} req/s  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  ` +
      `RSS ${r.peakRssMb?.toFixed(0) ?? "–"} MB  CPU/req ${serverCpuUs?.toFixed(0) ?? "–"} + ${dbCpuUs?.toFixed(0) ?? "–"} µs`,
  );
  if (r.failures > 0) log(`  ${r.failures} requests failed; status codes: ${JSON.stringify(r.statusCodes)}`);
  return {
    scenario: scenario.id,
    target,
    label: scenario.label,
    reqPerSec: r.reqPerSec,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    peakRssMb: r.peakRssMb,
    failures: r.failures,
    serverCpuUs,
    dbCpuUs,
    baseline: scenario.baseline,
  };
}

/** Times `runs` start-ups; every server but the last is stopped, the last is returned running. */
async function timedStarts(label: string, target: Target, runs: number, start: () => Promise<ServerUnderTest>): Promise<ServerUnderTest> {
  const runsMs: number[] = [];
  const cpu: Array<number | null> = [];
  let server: ServerUnderTest | undefined;
  for (let run = 0; run < runs; run++) {
    server = await start();
    runsMs.push(server.startupMs);
    cpu.push(server.startupCpuMs);
    if (run < runs - 1) await server.stop();
  }
  startups.push({ label, target, runsMs, cpuMs: cpu });
  log(`  start-up, ${label}: ${runsMs.map((v) => v.toFixed(0)).join(", ")} ms (CPU ${cpu.map((v) => v?.toFixed(0) ?? "–").join(", ")} ms)`);
  return server!;
}

async function withDatabase<T>(db: Promise<{ db: Database; close(): Promise<void> }>, work: (db: Database) => Promise<T>): Promise<T> {
  const opened = await db;
  try {
    return await work(opened.db);
  } finally {
    await opened.close();
  }
}

async function seed(db: Database, kind: Target): Promise<Dataset> {
  await migrate(db);
  const dataset = await seedDataset(db, keyRing, { entities: ENTITIES, perEntity: CONNECTORS_PER_ENTITY, groupSize: options.connections });
  // What autovacuum would have done by the time a real table held this much.
  await sql`analyze`.execute(db);
  plans[kind] = await explainRequestQueries(db, dataset.readers[0]!);
  versions[kind] = (await sql<{ server_version: string }>`show server_version`.execute(db)).rows[0]!.server_version;
  return dataset;
}

async function postgresPass(): Promise<void> {
  log("PostgreSQL: seeding");
  const bench = await createBenchDatabase(options.pgAdminUrl, "main");
  cleanups.push(bench.drop);
  const dataset = await withDatabase(openDatabase({ kind: "postgres", url: bench.url, poolSize: 4 }), async (db) => {
    const d = await seed(db, "postgres");
    // The raw-INSERT baseline's scratch table: no migration, it lives and dies with this database.
    await sql`create table bench_inserts (id uuid primary key, request_key text, body jsonb not null, created_at timestamptz not null)`.execute(db);
    return d;
  });
  log(`PostgreSQL: ${dataset.entities} entities, ${dataset.connectors} connectors (${dataset.sealed} with sealed credentials), ${4 * options.connections} API keys`);
  seeded = dataset;

  await timedStarts("PostgreSQL, empty database (runs the migrations)", "postgres", options.startupRuns, async () => {
    const fresh = await createBenchDatabase(options.pgAdminUrl, "fresh");
    cleanups.push(fresh.drop);
    return startServer(patchbay("patchbay-pg-fresh", { DATABASE_URL: fresh.url }));
  }).then((s) => s.stop());

  const server = await timedStarts("PostgreSQL, migrated database (a restart)", "postgres", options.startupRuns, () =>
    startServer(patchbay("patchbay-pg", { DATABASE_URL: bench.url })),
  );
  const baseline = await startServer({ name: "baseline", entry: "bench/baseline-server.ts", env: { BENCH_DATABASE_URL: bench.url, BENCH_POOL_SIZE: "10" } });

  const bare = Object.fromEntries([...baselineScenarios(dataset), ...proxyBaselineScenarios()].map((s) => [s.id, s]));
  const ours = Object.fromEntries(patchbayScenarios(dataset).map((s) => [s.id, s]));
  // Each Patchbay scenario runs right after its baseline, so both see the same machine noise.
  const order: Array<[ServerUnderTest, Scenario, Target]> = [
    [baseline, bare.constant!, "bare"],
    [baseline, bare.select!, "bare"],
    [server, ours.get!, "postgres"],
    [server, ours.list!, "postgres"],
    [baseline, bare.insert!, "bare"],
    [server, ours["patch-fresh"]!, "postgres"],
    // The contract's floor for that PATCH, right after it (the report sets the writes against it too).
    [baseline, bare["same-writes"]!, "bare"],
    [server, ours["patch-replay"]!, "postgres"],
    [server, ours["delete-post"]!, "postgres"],
    // Issue 15: straight to the fake, through the bare forwarder, through Patchbay's proxy.
    [proxyPeers!.fake, bare["proxy-direct"]!, "bare"],
    [proxyPeers!.forwarder, bare["proxy-forwarder"]!, "bare"],
    [server, ours.proxy!, "postgres"],
  ];
  log("PostgreSQL: load");
  const backends = new BackendCpu(options.pgAdminUrl, bench.name);
  cleanups.push(() => backends.close());
  // The fake and the forwarder use no database: no backend CPU is charged to them.
  const usesDatabase = (s: ServerUnderTest) => s !== proxyPeers!.fake && s !== proxyPeers!.forwarder;
  for (const [s, scenario, target] of order) if (wanted(scenario)) rows.push(await measure(s, scenario, target, usesDatabase(s) ? backends : null));
  await backends.close();
  await server.stop();
  await baseline.stop();
  await bench.drop();
}

async function embeddedPass(): Promise<void> {
  log("embedded: seeding");
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "patchbay-bench-"));
  cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const dataset = await withDatabase(openDatabase({ kind: "pglite", dataDir }), (db) => seed(db, "embedded"));

  await timedStarts(
    "embedded, first start (empty data dir: initdb + migrations)",
    "embedded",
    options.startupRuns,
    async () => {
      const fresh = fs.mkdtempSync(path.join(os.tmpdir(), "patchbay-bench-fresh-"));
      cleanups.push(() => fs.rmSync(fresh, { recursive: true, force: true }));
      return startServer(patchbay("patchbay-embedded-fresh", { PATCHBAY_DATA_DIR: fresh }));
    },
  ).then((s) => s.stop());

  const server = await timedStarts("embedded, restart (initialised data dir)", "embedded", options.startupRuns, () =>
    startServer(patchbay("patchbay-embedded", { PATCHBAY_DATA_DIR: dataDir })),
  );
  log("embedded: load");
  for (const scenario of patchbayScenarios(dataset)) if (wanted(scenario)) rows.push(await measure(server, scenario, "embedded", null));
  await server.stop();
}

/**
 * Issue point 5. An entity holds at most 16 connectors (one per type), so
 * "an entity with 100,000 connectors" cannot exist; what can grow is the
 * table around it. One entity's list is measured while the table holds 10,
 * 1,000 and 100,000 connectors, with the plan of the list query each time.
 */
async function listScaling(): Promise<void> {
  log("list scaling (PostgreSQL)");
  const scale = await createBenchDatabase(options.pgAdminUrl, "scale");
  cleanups.push(scale.drop);
  await withDatabase(openDatabase({ kind: "postgres", url: scale.url, poolSize: 2 }), async (db) => {
    await migrate(db);
    const subject = await seedListSubject(db, keyRing, 10);
    const server = await startServer(patchbay("patchbay-pg-scale", { DATABASE_URL: scale.url }));
    const scenario = listScenario(subject);
    const backends = new BackendCpu(options.pgAdminUrl, scale.name);
    cleanups.push(() => backends.close());
    let inTable = 10;
    for (const size of SCALING_SIZES) {
      if (size > inTable) await insertEntitiesWithConnectors(db, size - inTable, 16, "Filler");
      inTable = size;
      await sql`analyze connectors`.execute(db);
      const plan = await explainList(db, subject.entityId);
      plans[`list at ${size.toLocaleString("en-US")} connectors`] = { "GET /v1/integrations?limit=100": plan };
      const load = { url: server.url, connections: options.connections, requestsFor: scenario.requestsFor };
      // The first size also warms a freshly started server (JIT, pool): the full warm-up there, a short one after.
      await drive({ ...load, durationSec: size === SCALING_SIZES[0] ? options.warmupSec : Math.min(options.warmupSec, 1) });
      const cpuBefore = cpuMs(server.pid);
      const dbBefore = await backends.snapshot();
      const r = await drive({ ...load, durationSec: options.scaleDurationSec });
      const cpuAfter = cpuMs(server.pid);
      const dbAfter = await backends.snapshot();
      const perResponse = (ms: number) => (r.responses > 0 ? (ms * 1000) / r.responses : NaN);
      const serverCpuUs = cpuBefore !== null && cpuAfter !== null ? perResponse(cpuAfter - cpuBefore) : null;
      const dbCpuUs = dbBefore && dbAfter ? perResponse(backendCpuDelta(dbBefore, dbAfter)) : null;
      scaling.push({ connectorsInTable: size, reqPerSec: r.reqPerSec, p50Ms: r.p50Ms, p99Ms: r.p99Ms, failures: r.failures, serverCpuUs, dbCpuUs, plan: planSummary(plan) });
      log(
        `  ${size.toString().padStart(7)} connectors: ${r.reqPerSec.toFixed(0)} req/s  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  ` +
          `CPU/req ${serverCpuUs?.toFixed(0) ?? "–"} + ${dbCpuUs?.toFixed(0) ?? "–"} µs  (${planSummary(plan)})`,
      );
    }
    await backends.close();
    await server.stop();
  });
  await scale.drop();
}

function git(args: string[]): string {
  try {
    return execFileSync("git", args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "";
  }
}

function pgliteVersion(): string {
  try {
    return JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules/@electric-sql/pglite/package.json"), "utf8")).version;
  } catch {
    return "unknown";
  }
}

function commitLabel(): string {
  const commit = git(["rev-parse", "--short", "HEAD"]) || "unknown";
  const dirty = git(["status", "--porcelain", "--", "src", "bench", "package.json", ":!bench/results"]) ? " (with uncommitted changes)" : "";
  return commit + dirty;
}

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  return (
    `${cpu}, ${os.availableParallelism()} CPUs (nproc), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory, ${os.type()} ${os.release()}, Node ${process.version}, ` +
    `PostgreSQL ${versions.postgres ?? "–"}, PGlite ${pgliteVersion()} (PostgreSQL ${versions.embedded ?? "–"}).`
  );
}

const command = () => {
  const args = process.argv.slice(2).join(" ");
  return `npm run bench${args ? ` -- ${args}` : ""}`;
};

/** Only a run with the defaults' coverage and settings, and no profiler attached, speaks for BENCHMARKS.md. */
const fullRun = () =>
  !options.quick &&
  options.only.length === 0 &&
  options.embedded &&
  options.scaling &&
  options.cpuProfDir === null &&
  options.out === null &&
  options.logLevel === "info" &&
  Object.keys(options.patchbayEnv).length === 0;

/** Baselines first, then PostgreSQL, then embedded. */
function sortedRows(): Measurement[] {
  const order: Target[] = ["bare", "postgres", "embedded"];
  return [...rows].sort((a, b) => order.indexOf(a.target) - order.indexOf(b.target));
}

function report(startedAt: Date, loadAvg: number[]): string {
  const date = startedAt.toISOString().slice(0, 10);
  const sorted = sortedRows();
  const parts = [
    `# Patchbay benchmark, ${date}`,
    "",
    `\`${command()}\` at ${commitLabel()}: ${options.connections} connections, ${options.durationSec} s measured per scenario after ${options.warmupSec} s of warm-up, Patchbay at LOG_LEVEL=${options.logLevel}` +
      `${Object.keys(options.patchbayEnv).length > 0 ? ` with ${Object.entries(options.patchbayEnv).map(([k, v]) => `${k}=${v}`).join(", ")}` : ""}.`,
    "",
    `Machine: ${machine()} ` +
      `Load average when the run began: ${loadAvg.map((l) => l.toFixed(2)).join(", ")}. The load generator, the server and the database share these CPUs.`,
    "",
    `Dataset: ${ENTITIES.toLocaleString("en-US")} entities × ${CONNECTORS_PER_ENTITY} connectors = ${(ENTITIES * CONNECTORS_PER_ENTITY).toLocaleString("en-US")} ` +
      `(${seeded?.sealed.toLocaleString("en-US") ?? "–"} with credentials sealed in the vault), ${4 * options.connections} live API keys; every connection acts as its own entity. ` +
      "Rate limits raised out of reach (PATCHBAY_RATE_LIMIT_*=1000000) but still counted on every request" +
      (options.patchbayEnv.REDIS_URL ? ", in Redis (REDIS_URL)." : ": one rate_limit_take() per request, in PostgreSQL (no REDIS_URL).") +
      " Seeded connectors count as checked just now, so no periodic health check is due during the run.",
    "",
    "## Throughput and latency",
    "",
    measurementTable(sorted),
    "",
    "req/s counts 2xx responses only; \"failed\" counts everything else (non-2xx, errors, timeouts). " +
      "Baselines: a bare Fastify process (no logger, no plugins) with a `pg` pool of 10, Patchbay's pool size, on the same database and rows.",
    "",
  ];
  const floor = floorTable(sorted);
  if (floor) parts.push("", FLOOR_HEADING.replace(/^### /, "## "), "", FLOOR_NOTE, "", floor);
  parts.push(
    "",
    "## Start-up",
    "",
    startupTable(startups),
    "",
    "## Targets (issue 9, point 4)",
    "",
    targetTable(checkTargets(rows, startups)),
  );
  if (scaling.length > 0) {
    parts.push("", "## List scaling (PostgreSQL)", "", "One entity with 10 connectors; the rest of the table belongs to other entities (16 connectors each).", "", scalingTable(scaling));
  }
  parts.push("", "## Query plans", "");
  for (const [where, byQuery] of Object.entries(plans)) {
    for (const [query, plan] of Object.entries(byQuery)) parts.push(`${where}, ${query}:`, "", "```text", plan, "```", "");
  }
  return parts.join("\n");
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadAvg = os.loadavg();
  versions.postgres = await postgresVersion(options.pgAdminUrl).catch((e: Error) => {
    throw new Error(`cannot reach PostgreSQL at ${options.pgAdminUrl} (${e.message}); start it, or pass --pg-url`);
  });
  try {
    await startProxyPeers();
    await postgresPass();
    if (options.embedded) await embeddedPass();
    if (options.scaling) await listScaling();
  } finally {
    await cleanUp();
  }
  const markdown = report(startedAt, loadAvg);
  const out = options.out ?? path.join(ROOT, "bench", "results", `${startedAt.toISOString().slice(0, 10)}${options.quick ? "-quick" : ""}.md`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, markdown);
  process.stdout.write(`\n${markdown}\n`);
  const wallSec = (performance.now() - began) / 1000;
  if (fullRun()) {
    const file = path.join(ROOT, "BENCHMARKS.md");
    const section = summarySection({
      date: startedAt.toISOString().slice(0, 10),
      command: command(),
      commit: commitLabel(),
      machine: machine(),
      wallSec,
      resultsFile: path.relative(ROOT, out),
      rows: sortedRows(),
      checks: checkTargets(rows, startups),
      scaling,
    });
    fs.writeFileSync(file, updateBenchmarks(fs.existsSync(file) ? fs.readFileSync(file, "utf8") : null, section));
    log(`BENCHMARKS.md: summary section rewritten`);
  } else {
    log("BENCHMARKS.md left as it was (only a full run, without --quick, --only, --no-*, --cpu-prof, --out, --env or --log-level, rewrites its summary)");
  }
  log(`done in ${wallSec.toFixed(0)} s; results in ${path.relative(process.cwd(), out)}`);
}

main().catch((e: unknown) => {
  log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  void cleanUp().finally(() => process.exit(1));
});
