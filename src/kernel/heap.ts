import v8 from "node:v8";
import { PerformanceObserver } from "node:perf_hooks";

/**
 * Bounds how far the JavaScript heap's old generation grows past what the last full collection left alive.
 * V8 sizes that growth by its own heuristic, up to 4× on a machine with a few GB of memory: under load the
 * server's old generation went from ~25 MB live to ~100 MB before it was collected, and that slack is most of
 * the resident memory (BENCHMARKS.md, "Issue 16, sixth pass"). With a bound of 50% the same load peaks some
 * 80 MB lower at the same throughput, and 25% (the default) some 10 MB lower again with no CPU per request
 * added: the live heap is small (about 30 MB), so the extra full collections are cheap.
 * V8 reads the flag at every collection, so setting it once the process runs takes effect; 0 leaves V8's own.
 */
export function boundHeapGrowth(percent: number): void {
  if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}

const MB = 1024 * 1024;

/** The young generation's semi-space capacity now, in bytes (new_space holds two of them). */
export function semiSpaceBytes(): number {
  const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
  return space ? space.space_size / 2 : 0;
}

/**
 * Keeps the young generation's semi-spaces at most `mb` MB each. V8 grows them from 1 MB up to 16 MB under
 * load (32 MB resident for the pair), a size fixed when the process starts (`--max-semi-space-size`, which
 * `npm start` cannot pass to itself). What V8 does read at every growth is the factor it grows by
 * (`--semi-space-growth-factor`), so after each collection the factor is set to what reaches the bound and
 * no further: floor(bound / current), 1 once there (no growth). A space V8 shrank while idle grows back the
 * same way. A growth that runs before the observer has set the factor can pass the bound once, to V8's own
 * size at most; the next collection's check puts nothing back, but nothing grows further either.
 * Returns a function that stops watching. 0 leaves V8's own sizing.
 */
export function boundYoungGeneration(mb: number): () => void {
  if (mb <= 0) return () => {};
  const bound = mb * MB;
  let factor = -1;
  const adjust = () => {
    const current = semiSpaceBytes();
    const next = current > 0 ? Math.max(1, Math.floor(bound / current)) : 2;
    if (next !== factor) {
      factor = next;
      v8.setFlagsFromString(`--semi-space-growth-factor=${next}`);
    }
  };
  adjust();
  const observer = new PerformanceObserver(adjust);
  observer.observe({ entryTypes: ["gc"] });
  return () => observer.disconnect();
}
