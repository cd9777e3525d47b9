import { sql } from "kysely";
import type { Database } from "../db/index.ts";
import type { RateLimitStore } from "./store.ts";

interface TakeRow {
  allowed: boolean;
  minute_prev: number;
  minute_count: number;
  second_prev: number;
  second_count: number;
}

/**
 * Counters in the `rate_limit_windows` table, decided by the
 * `rate_limit_take` function (migration 0005): one round trip per request,
 * one row lock per key, so every process sharing the database sees one count.
 */
export function createPostgresRateLimitStore(db: Database): RateLimitStore {
  return {
    name: "postgres",
    async take(apiKeyId, nowMs, limit) {
      const { rows } = await sql<TakeRow>`select * from rate_limit_take(${apiKeyId}::uuid, ${String(nowMs)}::bigint, ${limit.perMinute}::int, ${limit.burst}::int)`.execute(db);
      const r = rows[0]!;
      return { allowed: r.allowed, minutePrev: r.minute_prev, minuteCount: r.minute_count, secondPrev: r.second_prev, secondCount: r.second_count };
    },
    ready: async () => {},
    close: async () => {},
  };
}
