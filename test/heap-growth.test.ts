import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ConfigError, loadConfig, type Config } from "../src/config.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

/** An integer setting: `fallback` unless set, each of `accepted` read as its number, each of `refused` refused by the variable's name. */
function assertIntegerSetting(name: string, read: (c: Config) => number, fallback: number, accepted: string[], refused: string[]): void {
  assert.equal(read(loadConfig({})), fallback);
  for (const good of accepted) assert.equal(read(loadConfig({ [name]: good })), Number(good));
  for (const bad of refused) {
    assert.throws(() => loadConfig({ [name]: bad }), (e: unknown) => e instanceof ConfigError && e.message.includes(name), bad);
  }
}

describe("the heap's growth bound (PATCHBAY_HEAP_GROWTH_PERCENT)", () => {
  it("is 25% unless set; 0 leaves V8's own factor; anything else is refused by name", () => {
    assertIntegerSetting("PATCHBAY_HEAP_GROWTH_PERCENT", (c) => c.heapGrowthPercent, 25, ["0", "120"], ["-5", "1.5", "lots", "401"]);
  });

  it("set while the process runs, it holds the old generation near its live size under churn, where V8's own factor lets it grow twice as far", async () => {
    const churn = async (percent: number) => {
      const { stdout } = await run(process.execPath, ["--import", "tsx", path.join(here, "helpers/heap-churn.ts"), String(percent)], { timeout: 60_000 });
      return JSON.parse(stdout) as { base: number; peak: number };
    };
    const mb = (n: number) => `${(n / 1048576).toFixed(0)} MB`;
    const bounded = await churn(50);
    assert.ok(bounded.base > 40 * 1048576, `the live set filled the old generation (${mb(bounded.base)})`);
    // The live set grows by the ring's promoted objects during the churn, and the limit with it (measured: 2.47–2.6×).
    assert.ok(bounded.peak <= bounded.base * 3.5, `bounded: the old generation peaked at ${mb(bounded.peak)} over a live ${mb(bounded.base)}`);
    // The same churn under V8's own factor (measured: 5.4–5.9×): the bound, not the workload, keeps the peak down.
    const unbounded = await churn(0);
    const ratio = (r: { base: number; peak: number }) => r.peak / r.base;
    assert.ok(ratio(unbounded) > ratio(bounded) * 1.6, `V8's own factor: the old generation peaked at ${mb(unbounded.peak)} over a live ${mb(unbounded.base)}, bounded at ${mb(bounded.peak)}`);
  });
});

describe("the young generation's bound (PATCHBAY_HEAP_SEMI_SPACE_MB)", () => {
  it("is 8 MB unless set; 0 leaves V8's own size; anything else is refused by name", () => {
    assertIntegerSetting("PATCHBAY_HEAP_SEMI_SPACE_MB", (c) => c.heapSemiSpaceMb, 8, ["0", "4"], ["-1", "2.5", "big", "257"]);
  });

  it("set while the process runs, it stops the semi-spaces at the bound under a server-like churn, where V8 grows them past it", async () => {
    const churn = async (mb: number) => {
      const { stdout } = await run(process.execPath, ["--import", "tsx", path.join(here, "helpers/young-churn.ts"), String(mb)], { timeout: 60_000 });
      return (JSON.parse(stdout) as { peak: number }).peak;
    };
    const MB = 1048576;
    const bounded = await churn(4);
    assert.ok(bounded <= 4 * MB, `bounded at 4 MB: a semi-space reached ${(bounded / MB).toFixed(1)} MB`);
    // The same churn with V8's own sizing (16 MB semi-spaces on a 64-bit machine with this much memory).
    const own = await churn(0);
    assert.ok(own > 4 * MB, `V8's own sizing: a semi-space reached only ${(own / MB).toFixed(1)} MB, so the churn does not show the bound`);
  });
});
