/**
 * What a bench run measured, as ratios and a markdown table. Pure functions:
 * the harness feeds them, test/bench-report.test.ts checks them.
 */

export type Target = "postgres" | "embedded" | "bare";

export interface Measurement {
  /** Scenario id, shared by the PostgreSQL and embedded passes ("get", "patch-fresh", …). */
  scenario: string;
  target: Target;
  label: string;
  /** 2xx responses per second over the measured window. */
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  peakRssMb: number | null;
  /** Non-2xx responses, connection errors and timeouts. */
  failures: number;
  /** CPU µs per response of the server process (for the embedded database, this includes the database). */
  serverCpuUs: number | null;
  /** CPU µs per response of the PostgreSQL backends serving it. */
  dbCpuUs: number | null;
  /** Scenario id of the bare baseline this one is compared with. */
  baseline?: string;
}

export interface StartupFigure {
  label: string;
  target: Target;
  runsMs: number[];
  /** CPU ms of each run by the time it answered (null where /proc could not be read). */
  cpuMs?: Array<number | null>;
}

export interface TargetCheck {
  goal: string;
  figure: string;
  met: boolean;
}

export const TARGET_NAMES: Record<Target, string> = { postgres: "PostgreSQL", embedded: "embedded", bare: "bare Fastify" };

export function find(rows: readonly Measurement[], target: Target, scenario: string): Measurement | undefined {
  return rows.find((r) => r.target === target && r.scenario === scenario);
}

/** req/s of a row over req/s of its baseline (measured in the same run), or null without one. */
export function ratioToBaseline(row: Measurement, rows: readonly Measurement[]): number | null {
  if (!row.baseline) return null;
  const base = find(rows, "bare", row.baseline);
  if (!base || base.reqPerSec <= 0) return null;
  return row.reqPerSec / base.reqPerSec;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const pct = (r: number) => `${Math.round(r * 100)}%`;
const num = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "–");

function cpuCell(r: Measurement): string {
  if (r.serverCpuUs === null) return "–";
  return r.dbCpuUs === null ? num(r.serverCpuUs) : `${num(r.serverCpuUs)} + ${num(r.dbCpuUs)}`;
}

export function measurementTable(rows: readonly Measurement[]): string {
  const lines = [
    "| database | scenario | req/s | p50 ms | p99 ms | peak RSS MB | vs baseline | CPU µs/req server + db | failed |",
    "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
  ];
  for (const r of rows) {
    const ratio = ratioToBaseline(r, rows);
    const vs = ratio === null ? "–" : `${pct(ratio)} of ${find(rows, "bare", r.baseline!)!.label}`;
    lines.push(
      `| ${TARGET_NAMES[r.target]} | ${r.label} | ${num(r.reqPerSec)} | ${num(r.p50Ms, 1)} | ${num(r.p99Ms, 1)} | ${r.peakRssMb === null ? "–" : num(r.peakRssMb)} | ${vs} | ${cpuCell(r)} | ${r.failures} |`,
    );
  }
  return lines.join("\n");
}

export function startupTable(figures: readonly StartupFigure[]): string {
  const lines = ["| start-up to /healthz 200 | median ms | runs (ms) | CPU ms by then (median) |", "| --- | ---: | --- | ---: |"];
  for (const f of figures) {
    const cpu = (f.cpuMs ?? []).filter((v): v is number => v !== null);
    lines.push(`| ${f.label} | ${num(median(f.runsMs))} | ${f.runsMs.map((v) => num(v)).join(", ")} | ${cpu.length > 0 ? num(median(cpu)) : "–"} |`);
  }
  return lines.join("\n");
}

/**
 * The targets of issues 9, 15 and 16, each with the figure this run measured.
 * They are PostgreSQL targets; the embedded database is held to "≥ 30% of PostgreSQL's GET".
 */
export function checkTargets(rows: readonly Measurement[], startups: readonly StartupFigure[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const ratioCheck = (goal: string, scenario: string, min: number) => {
    const row = find(rows, "postgres", scenario);
    const ratio = row ? ratioToBaseline(row, rows) : null;
    if (row && ratio !== null) checks.push({ goal, figure: `${pct(ratio)} (${num(row.reqPerSec)} vs ${num(find(rows, "bare", row.baseline!)!.reqPerSec)} req/s)`, met: ratio >= min });
  };
  ratioCheck("authenticated GET ≥ 70% of the raw-pg SELECT baseline", "get", 0.7);
  ratioCheck("PATCH with a fresh Idempotency-Key ≥ 40% of the raw INSERT baseline", "patch-fresh", 0.4);

  // Issue 15: the proxied GET against the bare Fastify + undici forwarder, same run.
  ratioCheck("proxied GET ≥ 60% of the bare Fastify + undici forwarder", "proxy", 0.6);
  const proxied = find(rows, "postgres", "proxy");
  const forwarder = find(rows, "bare", "proxy-forwarder");
  if (proxied && forwarder) {
    const added = proxied.p50Ms - forwarder.p50Ms;
    checks.push({ goal: "proxied GET adds ≤ 2 ms to the forwarder's p50", figure: `+${num(added, 1)} ms (${num(proxied.p50Ms, 1)} vs ${num(forwarder.p50Ms, 1)} ms)`, met: added <= 2 });
  }
  if (proxied && proxied.peakRssMb !== null) checks.push({ goal: "RSS < 200 MB while proxying (PostgreSQL)", figure: `peak ${num(proxied.peakRssMb)} MB`, met: proxied.peakRssMb < 200 });

  // Issue 16, point 3: every PostgreSQL scenario's p99 at most twice its bare baseline's, same run.
  const tails = rows
    .filter((r) => r.target === "postgres" && r.baseline)
    .map((r) => ({ r, base: find(rows, "bare", r.baseline!) }))
    .filter((t): t is { r: Measurement; base: Measurement } => t.base !== undefined && t.base.p99Ms > 0)
    .map((t) => ({ ...t, ratio: t.r.p99Ms / t.base.p99Ms }));
  if (tails.length > 0) {
    const worst = tails.reduce((a, b) => (b.ratio > a.ratio ? b : a));
    checks.push({
      goal: "p99 ≤ 2× its bare baseline's p99 at 50 connections (every PostgreSQL scenario)",
      figure: `worst ${num(worst.ratio, 1)}× (${worst.r.label}: ${num(worst.r.p99Ms, 1)} vs ${num(worst.base.p99Ms, 1)} ms)`,
      met: worst.ratio <= 2,
    });
  }
  // Issue 16, point 5: the embedded database queues boundedly — p99 ≤ 1 s, the 503s it answers instead counted.
  const embeddedRows = rows.filter((r) => r.target === "embedded");
  if (embeddedRows.length > 0) {
    const worst = embeddedRows.reduce((a, b) => (b.p99Ms > a.p99Ms ? b : a));
    const failed = embeddedRows.reduce((n, r) => n + r.failures, 0);
    checks.push({ goal: "embedded p99 ≤ 1 s at 50 connections (every scenario; what waits too long is a 503 with Retry-After)", figure: `worst ${num(worst.p99Ms, 1)} ms (${worst.label}); ${num(failed)} non-2xx responses in all`, met: worst.p99Ms <= 1000 });
  }

  const pgGet = find(rows, "postgres", "get");
  const embeddedGet = find(rows, "embedded", "get");
  if (pgGet && embeddedGet && pgGet.reqPerSec > 0) {
    const r = embeddedGet.reqPerSec / pgGet.reqPerSec;
    checks.push({ goal: "embedded GET ≥ 30% of PostgreSQL's GET req/s", figure: `${pct(r)} (${num(embeddedGet.reqPerSec)} vs ${num(pgGet.reqPerSec)} req/s)`, met: r >= 0.3 });
  }

  for (const s of startups) {
    const cpu = (s.cpuMs ?? []).filter((v): v is number => v !== null);
    const cpuNote = cpu.length > 0 ? `; ${num(median(cpu))} ms of CPU` : "";
    // Issue 16, point 4: an embedded first start (empty data dir) within 2 s, every other start within 1.5 s.
    const limitMs = s.target === "embedded" && s.label.includes("first start") ? 2000 : 1500;
    checks.push({ goal: `start-up to /healthz 200 ≤ ${num(limitMs / 1000, 1)} s: ${s.label}`, figure: `${num(median(s.runsMs))} ms (median of ${s.runsMs.length}${cpuNote})`, met: median(s.runsMs) <= limitMs });
  }

  for (const target of ["postgres", "embedded"] as const) {
    const measured = rows.filter((r) => r.target === target && r.peakRssMb !== null);
    if (measured.length === 0) continue;
    const peak = Math.max(...measured.map((r) => r.peakRssMb!));
    checks.push({ goal: `RSS ≤ 200 MB under load (${TARGET_NAMES[target]})`, figure: `peak ${num(peak)} MB`, met: peak <= 200 });
  }
  return checks;
}

/**
 * Issue 16, point 2's context: the fresh-key PATCH set against the contract's
 * floor (the bare route making the same four writes in one statement,
 * bench/baseline-server.ts SAME_WRITES) as well as against the bare INSERT.
 * Empty when the run had no floor row.
 */
export function floorTable(rows: readonly Measurement[]): string {
  const floor = find(rows, "bare", "same-writes");
  const insert = find(rows, "bare", "insert");
  if (!floor || floor.reqPerSec <= 0) return "";
  const lines = [
    "| scenario | req/s | of the floor's req/s | p99 ms | p99 ÷ the floor's | CPU µs/req server + db |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  if (insert) lines.push(`| bare pg INSERT (one row, one table) | ${num(insert.reqPerSec)} | ${pct(insert.reqPerSec / floor.reqPerSec)} | ${num(insert.p99Ms, 1)} | ${num(insert.p99Ms / floor.p99Ms, 2)}× | ${cpuCell(insert)} |`);
  lines.push(`| **the floor**: ${floor.label} | ${num(floor.reqPerSec)} | 100% | ${num(floor.p99Ms, 1)} | 1× | ${cpuCell(floor)} |`);
  for (const target of ["postgres", "embedded"] as const) {
    const r = find(rows, target, "patch-fresh");
    if (r) lines.push(`| ${TARGET_NAMES[target]}: ${r.label} | ${num(r.reqPerSec)} | ${pct(r.reqPerSec / floor.reqPerSec)} | ${num(r.p99Ms, 1)} | ${num(r.p99Ms / floor.p99Ms, 1)}× | ${cpuCell(r)} |`);
  }
  return lines.join("\n");
}

export function targetTable(checks: readonly TargetCheck[]): string {
  const lines = ["| target | measured | met |", "| --- | --- | --- |"];
  for (const c of checks) lines.push(`| ${c.goal} | ${c.figure} | ${c.met ? "yes" : "**no**"} |`);
  return lines.join("\n");
}

/** One size of the list-scaling probe: the subject entity's list while the table holds `connectorsInTable`. */
export interface ScalingPoint {
  connectorsInTable: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
  /** CPU µs per response, server and PostgreSQL backends: the flatness figure that other load on the machine moves least. */
  serverCpuUs?: number | null;
  dbCpuUs?: number | null;
  /** The plan line naming the index the list query used. */
  plan: string;
}

export function scalingTable(points: readonly ScalingPoint[]): string {
  const lines = [
    "| connectors in the table | req/s | p50 ms | p99 ms | CPU µs/req server + db | failed | list query plan |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const p of points) {
    const cpu = p.serverCpuUs == null ? "–" : p.dbCpuUs == null ? num(p.serverCpuUs) : `${num(p.serverCpuUs)} + ${num(p.dbCpuUs)}`;
    lines.push(`| ${p.connectorsInTable.toLocaleString("en-US")} | ${num(p.reqPerSec)} | ${num(p.p50Ms, 1)} | ${num(p.p99Ms, 1)} | ${cpu} | ${p.failures} | \`${p.plan}\` |`);
  }
  return lines.join("\n");
}

/** The part of BENCHMARKS.md each full run rewrites; everything outside the markers is kept as written. */
export const SUMMARY_BEGIN = "<!-- bench:summary:begin (written by npm run bench; edit outside these markers) -->";
export const SUMMARY_END = "<!-- bench:summary:end -->";

export interface SummaryInput {
  /** YYYY-MM-DD of the run. */
  date: string;
  /** The command line, as run. */
  command: string;
  /** The commit the run measured, with "(with uncommitted changes)" when it was dirty. */
  commit: string;
  /** CPU model, cores, memory, Node and database versions. */
  machine: string;
  /** Total wall time of the run in seconds. */
  wallSec: number;
  /** The results file, relative to the repository root (a link from BENCHMARKS.md). */
  resultsFile: string;
  rows: readonly Measurement[];
  checks: readonly TargetCheck[];
  scaling: readonly ScalingPoint[];
}

export const FLOOR_HEADING = "### The fresh-key PATCH against the contract's floor";
export const FLOOR_NOTE =
  "The floor is a bare Fastify + `pg` route that makes the writes Patchbay's contract requires of that PATCH — the connector row, its event, " +
  "its audit entry and the stored answer, committed together — on the same tables, as one statement in one round trip, with nothing validated, " +
  "claimed first, fanned out or announced (bench/baseline-server.ts). Whatever Patchbay does, its PATCH cannot pass the floor.";

/** The generated section of BENCHMARKS.md: where and how the last full run ran, its targets, tables and a link to its results. */
export function summarySection(s: SummaryInput): string {
  const met = s.checks.filter((c) => c.met).length;
  const parts = [
    SUMMARY_BEGIN,
    "",
    `## Last full run: ${s.date}`,
    "",
    `Command: \`${s.command}\` at ${s.commit}, ${Math.round(s.wallSec)} s wall time end to end. Full results, start-up runs and query plans: [${s.resultsFile}](${s.resultsFile}).`,
    "",
    `Machine: ${s.machine}`,
    "",
    `### Targets (issues 9, 15 and 16): ${met} of ${s.checks.length} met`,
    "",
    targetTable(s.checks),
    "",
    "### Throughput and latency",
    "",
    measurementTable(s.rows),
  ];
  const floor = floorTable(s.rows);
  if (floor) parts.push("", FLOOR_HEADING, "", FLOOR_NOTE, "", floor);
  if (s.scaling.length > 0) {
    parts.push("", "### List scaling (PostgreSQL, one entity's list while the table grows)", "", scalingTable(s.scaling));
  }
  parts.push("", SUMMARY_END);
  return parts.join("\n");
}

const NEW_BENCHMARKS = (section: string) =>
  [
    "# Benchmarks",
    "",
    "`npm run bench` (PostgreSQL on 127.0.0.1:5432) measures Patchbay against bare Fastify baselines in the same run; see `npm run bench -- --help`.",
    "A full run rewrites the section below and writes bench/results/<date>.md.",
    "",
    section,
    "",
  ].join("\n");

/** BENCHMARKS.md with its generated section replaced (or the file begun, when there is none yet). */
export function updateBenchmarks(existing: string | null, section: string): string {
  if (existing === null) return NEW_BENCHMARKS(section);
  const begin = existing.indexOf(SUMMARY_BEGIN);
  const end = existing.indexOf(SUMMARY_END);
  if (begin < 0 || end < begin) return `${existing.trimEnd()}\n\n${section}\n`;
  return existing.slice(0, begin) + section + existing.slice(end + SUMMARY_END.length);
}
