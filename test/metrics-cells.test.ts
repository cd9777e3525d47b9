import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Counter, Histogram, Registry } from "prom-client";
import { CounterFamily, HistogramFamily } from "../src/metrics/cells.ts";

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

describe("metric cells (src/metrics/cells.ts)", () => {
  it("render exactly what prom-client's own counter and histogram render for the same observations", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const labelNames = ["method", "route", "status"] as const;
    const oc = new CounterFamily({ name: "x_requests_total", help: "Requests.", labelNames, registers: [ours] });
    const oh = new HistogramFamily({ name: "x_duration_seconds", help: "Time.", labelNames, buckets: BUCKETS, registers: [ours] });
    const tc = new Counter({ name: "x_requests_total", help: "Requests.", labelNames, registers: [theirs] });
    const th = new Histogram({ name: "x_duration_seconds", help: "Time.", labelNames, buckets: BUCKETS, registers: [theirs] });
    const labelSets = [
      { method: "GET", route: "/v1/integrations/:connector_type", status: "200" },
      { method: "POST", route: 'odd "route" \\ with\nnewline', status: "500" },
    ];
    let seed = 3;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    // Bounds themselves, values between them, above the last.
    const values = [...BUCKETS, 0, 11, ...Array.from({ length: 500 }, () => rand() * 12)];
    for (const [i, v] of values.entries()) {
      const labels = labelSets[i % 2]!;
      oc.cell(labels).inc();
      tc.inc(labels);
      oh.cell(labels).observe(v);
      th.observe(labels, v);
    }
    oc.inc(labelSets[0]!, 5);
    tc.inc(labelSets[0]!, 5);
    assert.equal(await ours.metrics(), await theirs.metrics());
  });

  it("a cell looked up twice is the same cell; reset() empties the family", async () => {
    const registry = new Registry();
    const family = new CounterFamily({ name: "y_total", help: "Y.", labelNames: ["a"], registers: [registry] });
    const cell = family.cell({ a: "1" });
    assert.equal(family.cell({ a: "1" }), cell);
    cell.inc();
    family.inc({ a: "1" });
    assert.match(await registry.metrics(), /^y_total\{a="1"\} 2$/m);
    registry.resetMetrics();
    assert.doesNotMatch(await registry.metrics(), /y_total\{/);
  });

  it("a histogram ignores a value that is not a number, as it cannot be bucketed", async () => {
    const registry = new Registry();
    const family = new HistogramFamily({ name: "z_seconds", help: "Z.", labelNames: ["a"], buckets: [1], registers: [registry] });
    family.observe({ a: "x" }, Number.NaN);
    family.observe({ a: "x" }, 0.5);
    assert.match(await registry.metrics(), /^z_seconds_count\{a="x"\} 1$/m);
  });
});
