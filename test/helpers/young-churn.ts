// A child process for test/heap-growth.test.ts: bound the young generation as the server does (argv[2] MB per
// semi-space; 0 = V8's own), then allocate as a busy server does: short-lived objects, some of them kept a while,
// in many short turns of the event loop. Prints the largest semi-space seen, in bytes, as one JSON line.
import { boundYoungGeneration, semiSpaceBytes } from "../../src/kernel/heap.ts";

const stop = boundYoungGeneration(Number(process.argv[2]));
let kept: unknown[] = [];
let peak = 0;
for (let turn = 0; turn < 3_000; turn++) {
  for (let i = 0; i < 2_000; i++) {
    kept.push({ n: i, s: `row-${i}` });
    if (kept.length > 20_000) kept = [];
  }
  peak = Math.max(peak, semiSpaceBytes());
  await new Promise((resolve) => setImmediate(resolve));
}
stop();
process.stdout.write(JSON.stringify({ peak }) + "\n");
