import { sql } from "kysely";
import { hashApiKey, looksLikeApiKey } from "../auth/api-key-format.ts";
import type { Clock } from "../clock.ts";
import type { Database } from "../db/index.ts";
import type { ApiKeyRecord } from "../db/schema.ts";
import type { RateLimitCheck, RateLimiter } from "../ratelimit/limiter.ts";
import { verdict } from "../ratelimit/sliding-window.ts";
import { invalidKey, type ApiKeyActor, type ApiKeyService, type RateLimitDefaults } from "./api-keys.ts";

export interface Admission {
  actor: ApiKeyActor;
  /** The rate limit's verdict on this request (counted whatever the request is refused for afterwards). */
  check: RateLimitCheck;
}

interface AdmitRow extends ApiKeyRecord {
  allowed: boolean;
  minute_prev: number;
  minute_count: number;
  second_prev: number;
  second_count: number;
}

/**
 * Admitting a request of an API key: which key it is, and whether its rate
 * limit lets this request through. When PostgreSQL keeps the counts (no
 * Redis), both are one statement — the key lookup and `rate_limit_take` in a
 * single round trip — instead of two on every request of every surface.
 * Revocation still takes effect at once in every process: the key row is
 * read on each request.
 */
export function createAdmission({ db, clock, apiKeys, rateLimiter, rateLimits }: {
  db: Database;
  clock: Clock;
  apiKeys: ApiKeyService;
  rateLimiter: RateLimiter;
  rateLimits: RateLimitDefaults;
}) {
  const { live, test } = rateLimits;

  return {
    /** `publicKey`, when given (HTTP Basic), must name the same key. */
    async admit(presented: string, publicKey?: string): Promise<Admission> {
      if (rateLimiter.store !== "postgres") {
        const actor = publicKey === undefined ? await apiKeys.authenticate(presented) : await apiKeys.authenticatePair(publicKey, presented);
        return { actor, check: await rateLimiter.check(actor.keyId, actor.rateLimit) };
      }
      if (!looksLikeApiKey(presented)) throw invalidKey();
      const nowMs = clock.now().getTime();
      // MATERIALIZED: the key is found (and must be live) before its window is counted.
      const { rows } = await sql<AdmitRow>`
        with k as materialized (
          select * from api_keys
           where key_hash = ${hashApiKey(presented)} and revoked_at is null
             ${publicKey === undefined ? sql`` : sql`and public_key = ${publicKey}`}
        )
        select k.*, t.allowed, t.minute_prev, t.minute_count, t.second_prev, t.second_count
          from k cross join lateral rate_limit_take(
            k.id,
            ${String(nowMs)}::bigint,
            coalesce(k.rate_limit_per_minute, case k.mode when 'live' then ${live.perMinute}::int else ${test.perMinute}::int end),
            coalesce(k.rate_limit_burst, case k.mode when 'live' then ${live.burst}::int else ${test.burst}::int end)
          ) t`.execute(db);
      const row = rows[0];
      if (!row) throw invalidKey();
      const actor = apiKeys.actorOf(row);
      const counts = { allowed: row.allowed, minutePrev: row.minute_prev, minuteCount: row.minute_count, secondPrev: row.second_prev, secondCount: row.second_count };
      return { actor, check: verdict(counts, actor.rateLimit, nowMs) };
    },
  };
}

export type AdmissionService = ReturnType<typeof createAdmission>;
