import type { RateLimit, WindowCounts } from "./sliding-window.ts";

/** Failed authentications of one client address in its sliding minute. */
export interface FailureCounts {
  /** No room for one more failure: the address is refused until the window lets it in. */
  throttled: boolean;
  prev: number;
  count: number;
}

/** A key's request is first refused if its client address is over its failure limit. */
export interface AddressGuard {
  address: string;
  failuresPerMinute: number;
}

/**
 * Where the counters live: takes one request's admission decision atomically,
 * for every process at once. Two implementations: PostgreSQL (always there)
 * and Redis (when REDIS_URL is set).
 */
export interface RateLimitStore {
  readonly name: "postgres" | "redis";
  /**
   * Counts one request of a key. With a guard, an address over its failure
   * limit is refused first (`throttled` set, the key's window untouched).
   */
  take(apiKeyId: string, nowMs: number, limit: RateLimit, guard?: AddressGuard): Promise<WindowCounts & { throttled?: FailureCounts }>;
  /** Counts one failed authentication of an address (if the window has room; else it answers throttled). */
  failAuthentication(address: string, nowMs: number, failuresPerMinute: number): Promise<FailureCounts>;
  /** Resolves once the store can answer (or has given up trying for now). */
  ready(): Promise<void>;
  close(): Promise<void>;
}
