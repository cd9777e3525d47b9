import { sql } from "kysely";
import type { Database } from "../db/index.ts";
import type { FailureCounts, RateLimitStore } from "./store.ts";

interface TakeRow {
  allowed: boolean;
  minute_prev: number;
  minute_count: number;
  second_prev: number;
  second_count: number;
}

export interface FailureRow {
  throttled: boolean;
  failures_prev: number;
  failures_count: number;
}

export const failureCounts = (r: FailureRow): FailureCounts => ({ throttled: r.throttled, prev: r.failures_prev, count: r.failures_count });

/**
 * Counters in the `rate_limit_windows` table, decided by the
 * `rate_limit_take` function (migration 0005): one round trip per request,
 * one row lock per key, so every process sharing the database sees one count.
 * Failed authentications per address: `auth_failures` (migration 0012).
 */
export function createPostgresRateLimitStore(db: Database): RateLimitStore {
  return {
    name: "postgres",
    async take(apiKeyId, nowMs, limit, guard) {
      // Only while Redis is away (the admission statement folds the guard in otherwise): a second round trip is acceptable there.
      if (guard) {
        const { rows } = await sql<FailureRow>`select * from auth_failures_peek(${guard.address}, ${String(nowMs)}::bigint, ${guard.failuresPerMinute}::int)`.execute(db);
        if (rows[0]!.throttled) return { allowed: false, minutePrev: 0, minuteCount: 0, secondPrev: 0, secondCount: 0, throttled: failureCounts(rows[0]!) };
      }
      const { rows } = await sql<TakeRow>`select * from rate_limit_take(${apiKeyId}::uuid, ${String(nowMs)}::bigint, ${limit.perMinute}::int, ${limit.burst}::int)`.execute(db);
      const r = rows[0]!;
      return { allowed: r.allowed, minutePrev: r.minute_prev, minuteCount: r.minute_count, secondPrev: r.second_prev, secondCount: r.second_count };
    },
    async failAuthentication(address, nowMs, failuresPerMinute) {
      const { rows } = await sql<FailureRow>`select * from auth_failures_take(${address}, ${String(nowMs)}::bigint, ${failuresPerMinute}::int)`.execute(db);
      return failureCounts(rows[0]!);
    },
    ready: async () => {},
    close: async () => {},
  };
}
