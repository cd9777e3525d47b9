import type { RateLimit, WindowCounts } from "./sliding-window.ts";

/**
 * Where the counters live: takes one request's admission decision atomically,
 * for every process at once. Two implementations: PostgreSQL (always there)
 * and Redis (when REDIS_URL is set).
 */
export interface RateLimitStore {
  readonly name: "postgres" | "redis";
  take(apiKeyId: string, nowMs: number, limit: RateLimit): Promise<WindowCounts>;
  /** Resolves once the store can answer (or has given up trying for now). */
  ready(): Promise<void>;
  close(): Promise<void>;
}
