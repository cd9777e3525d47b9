import type { Clock } from "../clock.ts";
import type { Database } from "../db/index.ts";
import { createPostgresRateLimitStore } from "./postgres-store.ts";
import { createRedisRateLimitStore } from "./redis-store.ts";
import { verdict, type RateLimit, type RateLimitVerdict } from "./sliding-window.ts";
import type { RateLimitStore } from "./store.ts";

export interface RateLimitCheck extends RateLimitVerdict {
  /** Set (at most once a minute) when the primary store failed and the fallback counted this request. */
  fallbackReason?: string;
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

  return {
    store: store.name,

    async check(apiKeyId: string, limit: RateLimit): Promise<RateLimitCheck> {
      const nowMs = clock.now().getTime();
      try {
        return verdict(await store.take(apiKeyId, nowMs, limit), limit, nowMs);
      } catch (err) {
        if (!fallback) throw err;
        const result: RateLimitCheck = verdict(await fallback.take(apiKeyId, nowMs, limit), limit, nowMs);
        if (nowMs - lastNoticeMs >= 60_000) {
          lastNoticeMs = nowMs;
          result.fallbackReason = `${store.name} failed (${err instanceof Error ? err.message : String(err)}); counting in ${fallback.name}`;
        }
        return result;
      }
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
