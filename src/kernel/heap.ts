import v8 from "node:v8";

/**
 * Bounds how far the JavaScript heap's old generation grows past what the last full collection left alive.
 * V8 sizes that growth by its own heuristic, up to 4× on a machine with a few GB of memory: under load the
 * server's old generation went from ~25 MB live to ~100 MB before it was collected, and that slack is most of
 * the resident memory (BENCHMARKS.md, "Issue 16, sixth pass"). With a bound of 50% the same load peaks some
 * 80 MB lower at the same throughput: the live heap is small, so the extra full collections are cheap.
 * V8 reads the flag at every collection, so setting it once the process runs takes effect; 0 leaves V8's own.
 */
export function boundHeapGrowth(percent: number): void {
  if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
