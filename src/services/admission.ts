import { sql } from "kysely";
import { hashApiKey, looksLikeApiKey } from "../auth/api-key-format.ts";
import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import type { ApiKeyRecord } from "../db/schema.ts";
import type { AuthThrottle } from "../ratelimit/auth-throttle.ts";
import type { RateLimitCheck, RateLimiter } from "../ratelimit/limiter.ts";
import { failureCounts, type FailureRow } from "../ratelimit/postgres-store.ts";
import { verdict } from "../ratelimit/sliding-window.ts";
import { invalidKey, type ApiKeyService, type RateLimitDefaults } from "./api-keys.ts";
import type { ApiKeyActor } from "../auth/actor.ts";
import { AuthenticationError } from "../kernel/errors.ts";
import { hashAccessToken, looksLikeAccessToken } from "./oauth2-tokens.ts";

export interface Admission {
  actor: ApiKeyActor;
  /** The rate limit's verdict on this request (counted whatever the request is refused for afterwards). */
  check: RateLimitCheck;
}

interface AdmitRow extends ApiKeyRecord, FailureRow {
  key_id: string | null;
  allowed: boolean;
  minute_prev: number;
  minute_count: number;
  second_prev: number;
  second_count: number;
}

/**
 * Admitting a request of an API key from a client address: whether the
 * address is over its limit of failed authentications (then 429 before the
 * key is looked at), which key it is (an unknown one counts as a failure of
 * the address), and whether the key's rate limit lets this request through.
 * When PostgreSQL keeps the counts (no Redis), all of it is one statement —
 * `admit_api_key` (migration 0012) — instead of several round trips on every
 * request of every surface. Revocation still takes effect at once in every
 * process: the key row is read on each request.
 */
/** A bearer token that is malformed, unknown, expired, or whose key is revoked. */
export function invalidAccessToken(): AuthenticationError {
  return new AuthenticationError("invalid_token", "The access token is not valid: it is malformed, unknown or expired, or its key is revoked.", "Get a new one from POST /oauth2/token.");
}

export function createAdmission({ db, clock, apiKeys, rateLimiter, rateLimits, authThrottle }: {
  db: Database;
  clock: Clock;
  apiKeys: ApiKeyService;
  rateLimiter: RateLimiter;
  rateLimits: RateLimitDefaults;
  authThrottle: AuthThrottle;
}) {
  const { live, test } = rateLimits;
  const { failuresPerMinute } = authThrottle;

  async function admitCountingElsewhere(address: string, presented: string, publicKey: string | undefined): Promise<Admission> {
    let actor: ApiKeyActor;
    try {
      actor = publicKey === undefined ? await apiKeys.authenticate(presented) : await apiKeys.authenticatePair(publicKey, presented);
    } catch (err) {
      if (err instanceof AuthenticationError) throw await authThrottle.failed(address, err);
      throw err;
    }
    const check = await rateLimiter.check(actor.keyId, actor.rateLimit, { address, failuresPerMinute });
    if (check.throttled) throw authThrottle.refusal(address, check.throttled);
    return { actor, check };
  }

  /** The key of a live OAuth2 access token, read where the rate limit is not PostgreSQL's. */
  async function admitTokenCountingElsewhere(address: string, token: string): Promise<Admission> {
    const now = clock.now();
    const key = await db
      .selectFrom("oauth2_access_tokens as t")
      .innerJoin("api_keys as k", "k.id", "t.api_key_id")
      .selectAll("k")
      .where("t.token_hash", "=", hashAccessToken(token))
      .where("t.expires_at", ">", now)
      .where((eb) => eb.or([eb("k.revoked_at", "is", null), eb("k.revoked_at", ">", now)]))
      .executeTakeFirst();
    if (!key) throw await authThrottle.failed(address, invalidAccessToken());
    const actor = apiKeys.actorOf(key);
    const check = await rateLimiter.check(actor.keyId, actor.rateLimit, { address, failuresPerMinute });
    if (check.throttled) throw authThrottle.refusal(address, check.throttled);
    return { actor, check };
  }

  return {
    /**
     * An OAuth2 access token (POST /oauth2/token) on /api/v3: the same
     * admission as its key's — the address's failure throttle, the key's
     * revocation, the key's rate limit — and, with PostgreSQL counting, the
     * same one statement: the token's key hash is read inside it.
     */
    async admitAccessToken(address: string, token: string): Promise<Admission> {
      authThrottle.refuseIfThrottled(address);
      if (!looksLikeAccessToken(token)) throw await authThrottle.failed(address, invalidAccessToken());
      if (rateLimiter.store !== "postgres") return admitTokenCountingElsewhere(address, token);
      const nowMs = clock.now().getTime();
      const { rows } = await sql<AdmitRow>`
        select a.*, k.*
          from admit_api_key(
            (select ak.key_hash from oauth2_access_tokens t join api_keys ak on ak.id = t.api_key_id
              where t.token_hash = ${hashAccessToken(token)} and t.expires_at > to_timestamp(${String(nowMs)}::bigint / 1000.0)),
            null::text, ${address}, ${String(nowMs)}::bigint, ${failuresPerMinute}::int,
            ${live.perMinute}::int, ${live.burst}::int, ${test.perMinute}::int, ${test.burst}::int
          ) a
          left join api_keys k on k.id = a.key_id`.execute(db);
      const row = rows[0]!;
      if (row.throttled) throw authThrottle.refusal(address, failureCounts(row));
      if (row.key_id === null) throw invalidAccessToken();
      const actor = apiKeys.actorOf(row);
      const counts = { allowed: row.allowed, minutePrev: row.minute_prev, minuteCount: row.minute_count, secondPrev: row.second_prev, secondCount: row.second_count };
      return { actor, check: verdict(counts, actor.rateLimit, nowMs) };
    },

    /** `address`: the client's (clientAddress); `publicKey`, when given (HTTP Basic), must name the same key. */
    async admit(address: string, presented: string, publicKey?: string): Promise<Admission> {
      authThrottle.refuseIfThrottled(address);
      if (rateLimiter.store !== "postgres") return admitCountingElsewhere(address, presented, publicKey);
      if (!looksLikeApiKey(presented)) throw await authThrottle.failed(address, invalidKey());
      const nowMs = clock.now().getTime();
      const { rows } = await sql<AdmitRow>`
        select a.*, k.*
          from admit_api_key(
            ${hashApiKey(presented)}, ${publicKey ?? null}::text, ${address}, ${String(nowMs)}::bigint, ${failuresPerMinute}::int,
            ${live.perMinute}::int, ${live.burst}::int, ${test.perMinute}::int, ${test.burst}::int
          ) a
          left join api_keys k on k.id = a.key_id`.execute(db);
      const row = rows[0]!;
      if (row.throttled) throw authThrottle.refusal(address, failureCounts(row));
      // Unknown, revoked or another key's public id: already counted as a failure of the address.
      if (row.key_id === null) throw invalidKey();
      const actor = apiKeys.actorOf(row);
      const counts = { allowed: row.allowed, minutePrev: row.minute_prev, minuteCount: row.minute_count, secondPrev: row.second_prev, secondCount: row.second_count };
      return { actor, check: verdict(counts, actor.rateLimit, nowMs) };
    },
  };
}

export type AdmissionService = ReturnType<typeof createAdmission>;
