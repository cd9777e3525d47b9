import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import { createPostgresRateLimitStore } from "./postgres-store.ts";
import { createRedisRateLimitStore } from "./redis-store.ts";
import { verdict, type RateLimit, type RateLimitVerdict } from "./sliding-window.ts";
import type { AddressGuard, FailureCounts, RateLimitStore } from "./store.ts";

export interface RateLimitCheck extends RateLimitVerdict {
  /** Set (at most once a minute) when the primary store failed and the fallback counted this request. */
  fallbackReason?: string;
  /** Set when a guard was given and its address is over its failure limit: the key was not counted. */
  throttled?: FailureCounts;
}

export interface RateLimiterDeps {
  store: RateLimitStore;
  /** Counts instead of `store` while `store` fails (Redis down → PostgreSQL). */
  fallback?: RateLimitStore;
  clock: Clock;
}

/** Admits or refuses one request of an API key against its limit. */
export function createRateLimiter({ store, fallback, clock }: RateLimiterDeps) {
  let lastNoticeMs = -Infinity;

  /** `op` on the store, or on the fallback while the store fails (with the reason, at most once a minute, if `notice`). */
  async function counted<T>(nowMs: number, notice: boolean, op: (s: RateLimitStore) => Promise<T>): Promise<{ result: T; fallbackReason?: string }> {
    try {
      return { result: await op(store) };
    } catch (err) {
      if (!fallback) throw err;
      const result = await op(fallback);
      if (!notice || nowMs - lastNoticeMs < 60_000) return { result };
      lastNoticeMs = nowMs;
      return { result, fallbackReason: `${store.name} failed (${err instanceof Error ? err.message : String(err)}); counting in ${fallback.name}` };
    }
  }

  return {
    store: store.name,

    async check(apiKeyId: string, limit: RateLimit, guard?: AddressGuard): Promise<RateLimitCheck> {
      const nowMs = clock.now().getTime();
      const { result: counts, fallbackReason } = await counted(nowMs, true, (s) => s.take(apiKeyId, nowMs, limit, guard));
      const check: RateLimitCheck = verdict(counts, limit, nowMs);
      if (counts.throttled) check.throttled = counts.throttled;
      if (fallbackReason) check.fallbackReason = fallbackReason;
      return check;
    },

    /** Counts one failed authentication of a client address, shared by every process. */
    async failAuthentication(address: string, failuresPerMinute: number): Promise<FailureCounts> {
      const nowMs = clock.now().getTime();
      // Its requests are refused anyway: the warning waits for the next admitted one.
      return (await counted(nowMs, false, (s) => s.failAuthentication(address, nowMs, failuresPerMinute))).result;
    },

    ready: () => store.ready(),

    async close(): Promise<void> {
      await store.close();
      await fallback?.close();
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;

/** Redis when REDIS_URL is set (PostgreSQL standing in while it is away), else PostgreSQL. */
export function rateLimiterFor({ db, clock, redisUrl, redisKeyPrefix }: { db: Database; clock: Clock; redisUrl: string | null; redisKeyPrefix: string }): RateLimiter {
  const postgres = createPostgresRateLimitStore(db);
  if (!redisUrl) return createRateLimiter({ store: postgres, clock });
  return createRateLimiter({ store: createRedisRateLimitStore(redisUrl, redisKeyPrefix), fallback: postgres, clock });
}
