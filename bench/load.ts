import autocannon, { type Request } from "autocannon";
import type { RssSampler } from "./processes.ts";

export interface LoadOptions {
  url: string;
  connections: number;
  durationSec: number;
  /** The request sequence connection number `i` repeats (each connection acts as its own client). */
  requestsFor: (i: number) => Request[];
  /** Sampled while the load runs, for the peak RSS. */
  rss?: RssSampler;
}

export interface LoadResult {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  peakRssMb: number | null;
  failures: number;
  /** Every response received, 2xx or not. */
  responses: number;
  statusCodes: Record<string, number>;
}

/** Drives one server with autocannon: `connections` keep-alive connections for a fixed duration. */
export async function drive(opts: LoadOptions): Promise<LoadResult> {
  let next = 0;
  opts.rss?.start();
  const result = await autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.durationSec,
    timeout: 10,
    // Each connection gets its own sequence (its own key, its own rows): autocannon builds them once per connection.
    setupClient: (client) => client.setRequests(opts.requestsFor(next++ % opts.connections)),
  });
  const peakRssMb = opts.rss?.stop() ?? null;
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count]));
  return {
    reqPerSec: result["2xx"] / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    peakRssMb,
    failures: result.non2xx + result.errors + result.timeouts,
    responses: result["2xx"] + result.non2xx,
    statusCodes,
  };
}
