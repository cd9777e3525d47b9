import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checkTargets,
  floorTable,
  measurementTable,
  median,
  ratioToBaseline,
  SUMMARY_BEGIN,
  SUMMARY_END,
  summarySection,
  updateBenchmarks,
  type Measurement,
} from "../bench/report.ts";

const row = (m: Partial<Measurement> & Pick<Measurement, "scenario" | "target" | "reqPerSec">): Measurement => ({
  label: m.scenario,
  p50Ms: 2,
  p99Ms: 10,
  peakRssMb: 150,
  failures: 0,
  serverCpuUs: 300,
  dbCpuUs: 100,
  ...m,
});

const rows: Measurement[] = [
  row({ scenario: "select", target: "bare", reqPerSec: 4000, label: "pg SELECT" }),
  row({ scenario: "insert", target: "bare", reqPerSec: 1000, label: "pg INSERT" }),
  row({ scenario: "get", target: "postgres", reqPerSec: 3000, baseline: "select" }),
  row({ scenario: "patch-fresh", target: "postgres", reqPerSec: 300, baseline: "insert", p99Ms: 20 }),
  row({ scenario: "get", target: "embedded", reqPerSec: 600, baseline: "select", peakRssMb: 250, dbCpuUs: null }),
];

describe("the bench report states each figure as a ratio to its baseline from the same run", () => {
  it("divides a scenario's req/s by its baseline's", () => {
    assert.equal(ratioToBaseline(rows[2]!, rows), 0.75);
    assert.equal(ratioToBaseline(rows[3]!, rows), 0.3);
    assert.equal(ratioToBaseline(rows[0]!, rows), null, "a baseline has no baseline");
  });

  it("prints one table row per measurement, with the ratio and the CPU split", () => {
    const table = measurementTable(rows).split("\n");
    assert.equal(table.length, 2 + rows.length);
    assert.match(table[4]!, /^\| PostgreSQL \| get \| 3000 \| 2\.0 \| 10\.0 \| 150 \| 75% of pg SELECT \| 300 \+ 100 \| 0 \|$/);
    assert.match(table[6]!, /\| 15% of pg SELECT \| 300 \| 0 \|$/);
  });

  it("checks each target against the measured figure", () => {
    const checks = checkTargets(rows, [{ label: "PostgreSQL", target: "postgres", runsMs: [900, 1700, 1000] }]);
    assert.equal(checks.find((c) => c.goal.startsWith("authenticated GET"))!.met, true);
    assert.equal(checks.find((c) => c.goal.startsWith("PATCH"))!.met, false);
    assert.equal(checks.find((c) => c.goal.startsWith("p99"))!.figure, "worst 2.0× (patch-fresh: 20.0 vs 10.0 ms)");
    assert.equal(checks.find((c) => c.goal.startsWith("p99"))!.met, true, "2× is the bar");
    assert.equal(checks.find((c) => c.goal.startsWith("embedded p99"))!.met, true);
    assert.equal(checks.find((c) => c.goal.startsWith("embedded GET"))!.met, false, "600 is 20% of 3000");
    assert.equal(checks.find((c) => c.goal.startsWith("start-up"))!.met, true, "the median of 900, 1000, 1700 is 1000");
    assert.equal(checks.find((c) => c.goal.includes("(embedded)"))!.met, false, "250 MB > 200 MB");
    assert.equal(checks.find((c) => c.goal.includes("(PostgreSQL)"))!.met, true, "150 MB ≤ 200 MB");
  });

  it("holds an embedded first start to 2 s and every other start to 1.5 s", () => {
    const checks = checkTargets(rows, [
      { label: "embedded, first start (empty data dir)", target: "embedded", runsMs: [1800, 1900, 1700] },
      { label: "embedded, restart (initialised data dir)", target: "embedded", runsMs: [1600, 1600, 1600] },
    ]);
    assert.deepEqual(checks.filter((c) => c.goal.startsWith("start-up")).map((c) => [c.goal.slice(0, 32), c.met]), [
      ["start-up to /healthz 200 ≤ 2.0 s", true],
      ["start-up to /healthz 200 ≤ 1.5 s", false],
    ]);
  });

  it("sets the fresh-key PATCH against the contract's floor, and prints nothing without one", () => {
    assert.equal(floorTable(rows), "");
    const withFloor = [...rows, row({ scenario: "same-writes", target: "bare", reqPerSec: 400, label: "pg same writes", p99Ms: 8 })];
    const lines = floorTable(withFloor).split("\n");
    assert.equal(lines.length, 5);
    assert.match(lines[2]!, /^\| bare pg INSERT .* \| 1000 \| 250% \| 10\.0 \| 1\.25× \|/);
    assert.match(lines[3]!, /the floor.* \| 400 \| 100% \| 8\.0 \| 1× \|/);
    assert.match(lines[4]!, /^\| PostgreSQL: patch-fresh \| 300 \| 75% \| 20\.0 \| 2\.5× \| 300 \+ 100 \|$/);
  });

  it("takes the median of odd and even counts", () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });
});

describe("BENCHMARKS.md keeps its notes and gets the last full run's summary", () => {
  const section = summarySection({
    date: "2026-01-02",
    command: "npm run bench",
    commit: "abc1234",
    machine: "Some CPU, 2 CPUs (nproc), 8.0 GiB memory, Node v20, PostgreSQL 15.0.",
    wallSec: 301.4,
    resultsFile: "bench/results/2026-01-02.md",
    rows,
    checks: checkTargets(rows, []),
    scaling: [{ connectorsInTable: 100_000, reqPerSec: 900, p50Ms: 40, p99Ms: 90, failures: 0, serverCpuUs: 800, dbCpuUs: 600, plan: "Index Scan" }],
  });

  it("states the machine, the command, the targets met, the tables and links the results file", () => {
    assert.ok(section.startsWith(SUMMARY_BEGIN) && section.endsWith(SUMMARY_END));
    assert.match(section, /Command: `npm run bench` at abc1234, 301 s wall time/);
    assert.match(section, /\[bench\/results\/2026-01-02\.md\]\(bench\/results\/2026-01-02\.md\)/);
    assert.match(section, /Machine: Some CPU, 2 CPUs/);
    assert.match(section, /### Targets \(issues 9, 15 and 16\): 4 of 7 met/);
    assert.match(section, /\| 100,000 \| 900 \| 40\.0 \| 90\.0 \| 800 \+ 600 \| 0 \| `Index Scan` \|/);
  });

  it("begins the file when there is none", () => {
    const file = updateBenchmarks(null, section);
    assert.ok(file.startsWith("# Benchmarks\n"));
    assert.ok(file.includes(section));
  });

  it("replaces only the generated section, keeping what is written around it", () => {
    const before = `# Benchmarks\n\nintro\n\n${SUMMARY_BEGIN}\nold figures\n${SUMMARY_END}\n\n## Notes\n\nwhat costs the time\n`;
    const after = updateBenchmarks(before, section);
    assert.ok(!after.includes("old figures"));
    assert.ok(after.startsWith("# Benchmarks\n\nintro\n\n") && after.endsWith("\n\n## Notes\n\nwhat costs the time\n"));
    assert.equal(updateBenchmarks(after, section), after, "rewriting with the same run changes nothing");
  });

  it("appends the section to a file that has no markers yet", () => {
    assert.equal(updateBenchmarks("# Benchmarks\n\nnotes\n", section), `# Benchmarks\n\nnotes\n\n${section}\n`);
  });
});
