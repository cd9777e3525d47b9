// A child process for test/heap-growth.test.ts: bound the heap's growth as the server does (argv[2] percent),
// hold ~60 MB alive, then churn short-lived objects that survive scavenges into the old generation. Prints the
// old generation's size after the live set was built and its peak during the churn, as one JSON line.
import v8 from "node:v8";
import { boundHeapGrowth } from "../../src/kernel/heap.ts";

boundHeapGrowth(Number(process.argv[2]));
const oldSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === "old_space")?.space_size ?? 0;
const live: { id: number; name: string; tags: number[] }[] = [];
for (let i = 0; i < 400_000; i++) live.push({ id: i, name: `entity-${i}`, tags: [i, i + 1] });
const base = oldSpace();
const ring = new Array<unknown>(200_000);
let peak = 0;
for (let i = 0; i < 4_000_000; i++) {
  ring[i % ring.length] = { n: i, s: `row-${i}`, a: [i, i] };
  if ((i & 4095) === 0) peak = Math.max(peak, oldSpace());
}
process.stdout.write(JSON.stringify({ base, peak, live: live.length }) + "\n");
