import { performance } from "node:perf_hooks";
import { sql } from "kysely";
import { hashApiKeyHex, looksLikeApiKey } from "../auth/api-key-format.ts";
import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import type { ApiKeyRecord } from "../db/schema.ts";
import { changeFeedOf, type Change } from "../db/change-feed.ts";
import type { AuthThrottle } from "../ratelimit/auth-throttle.ts";
import type { RateLimitCheck, RateLimiter } from "../ratelimit/limiter.ts";
import { failureCounts, type FailureRow } from "../ratelimit/postgres-store.ts";
import { SECOND_MS, verdict, type WindowCounts } from "../ratelimit/sliding-window.ts";
import { invalidKey, type ApiKeyService, type RateLimitDefaults } from "./api-keys.ts";
import type { ApiKeyActor } from "../auth/actor.ts";
import { AuthenticationError } from "../kernel/errors.ts";
import { hashAccessToken, looksLikeAccessToken } from "./oauth2-tokens.ts";

export interface Admission {
  actor: ApiKeyActor;
  /** The rate limit's verdict on this request (counted whatever the request is refused for afterwards). */
  check: RateLimitCheck;
}

/** A row of admit_api_key (0012/0021): the OAuth2 bearer path, one statement per request, no grant. */
interface AdmitRow extends ApiKeyRecord, FailureRow {
  key_id: string | null;
  allowed: boolean;
  minute_prev: number;
  minute_count: number;
  second_prev: number;
  second_count: number;
}

interface LeaseRow extends ApiKeyRecord, FailureRow {
  key_id: string | null;
  allowed: boolean;
  granted: number;
  minute_prev: number;
  minute_count: number;
  second_prev: number;
  second_count: number;
}

/**
 * A key admitted in this process, with the requests of its rate limit this
 * process was granted in one one-second window (`second`, by the injected
 * clock): admitted from memory until they run out, the window ends or the
 * entry is older than the TTL (real time), whichever comes first.
 */
interface Lease {
  record: ApiKeyRecord;
  actor: ApiKeyActor;
  /** performance.now() when the row was read. */
  readAt: number;
  second: number;
  granted: number;
  used: number;
  /** The store's counts right after the grant (the whole grant counted). */
  counts: WindowCounts;
  /** Requests this process admitted for the key earlier in `second` (other grants): the next grant's size follows them. */
  usedEarlier: number;
  /** A change to the key was announced: its row must be read again before it is used (the unused grant is still given back). */
  stale: boolean;
  /** The grant being asked for, when one is; requests that find the lease spent wait for it. */
  pending: Promise<LeaseOutcome> | null;
  waiting: number;
}

type LeaseOutcome = { kind: "granted" } | { kind: "refused"; admission: Admission } | { kind: "other" };

/** Keys kept per process: bounded, so a flood of keys cannot grow it. */
const LEASE_CAPACITY = 10_000;
/** The most requests asked for in one grant, and the share of what is left that one grant may take. */
const MAX_GRANT = 256;
const GRANT_SHARE = 8;

/**
 * Admitting a request of an API key from a client address: whether the
 * address is over its limit of failed authentications (then 429 before the
 * key is looked at), which key it is (an unknown one counts as a failure of
 * the address), and whether the key's rate limit lets this request through.
 *
 * When PostgreSQL keeps the counts (no Redis), all of it is one statement,
 * `admit_api_key_lease` (migration 0031), that also grants this process a
 * few more requests of the key's limit for the rest of the current second
 * (counted in the database at once, so no process is ever admitted beyond
 * the limit; the unused rest is given back with the next grant). Until the
 * grant is spent, the second ends or `cacheTtlMs` has passed, the key's
 * requests are admitted from memory: no round trip. A key revoked, rolled
 * or changed anywhere is forgotten when the change is announced
 * (src/db/change-feed.ts) and at the latest after `cacheTtlMs` (README,
 * "Revocation"). With `cacheTtlMs` 0 every request is one statement.
 */
/** A bearer token that is malformed, unknown, expired, or whose key is revoked. */
export function invalidAccessToken(): AuthenticationError {
  return new AuthenticationError("invalid_token", "The access token is not valid: it is malformed, unknown or expired, or its key is revoked.", "Get a new one from POST /oauth2/token.");
}

export function createAdmission({ db, clock, apiKeys, rateLimiter, rateLimits, authThrottle, cacheTtlMs }: {
  db: Database;
  clock: Clock;
  apiKeys: ApiKeyService;
  rateLimiter: RateLimiter;
  rateLimits: RateLimitDefaults;
  authThrottle: AuthThrottle;
  cacheTtlMs: number;
}) {
  const { live, test } = rateLimits;
  const { failuresPerMinute } = authThrottle;
  /** hex(sha256(key)) → lease. */
  const leases = new Map<string, Lease>();

  const forget = (change: Change) => {
    if (change.table !== "api_keys") return;
    for (const lease of leases.values()) if (change.id === undefined || lease.record.id === change.id) lease.stale = true;
  };
  const unsubscribe = cacheTtlMs > 0 ? changeFeedOf(db).subscribe(forget) : () => {};

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

  /** The counts as if exactly the requests admitted so far had been counted (what a client is told). */
  function admitted(lease: Lease, nowMs: number): Admission {
    const unused = lease.granted - lease.used;
    const c = lease.counts;
    const counts = { allowed: true, minutePrev: c.minutePrev, minuteCount: c.minuteCount - unused, secondPrev: c.secondPrev, secondCount: c.secondCount - unused };
    return { actor: lease.actor, check: verdict(counts, lease.actor.rateLimit, nowMs) };
  }

  function usable(lease: Lease, nowMs: number, publicKey: string | undefined): boolean {
    const r = lease.record;
    return (
      !lease.stale &&
      lease.second === Math.floor(nowMs / SECOND_MS) &&
      performance.now() - lease.readAt < cacheTtlMs &&
      (r.revoked_at === null || r.revoked_at.getTime() > nowMs) &&
      (publicKey === undefined || publicKey === r.public_key)
    );
  }

  /**
   * How many requests to ask for: twice the last grant when it ran out within
   * its second, else twice what the key used in the whole last second (a key's
   * traffic varies from second to second: asking for just as much meant a second
   * statement in about half of them; the unused rest is given back with the
   * next grant); at most a
   * share of the room left (near the limit that is one: exact counting).
   */
  function wanted(previous: Lease | undefined, nowMs: number): number {
    if (cacheTtlMs === 0 || !previous) return 1;
    const second = Math.floor(nowMs / SECOND_MS);
    const demand = previous.second === second ? 2 * previous.granted : previous.second === second - 1 ? 2 * (previous.usedEarlier + previous.used) : 0;
    const room = Math.floor(verdict({ ...previous.counts, allowed: true }, previous.actor.rateLimit, nowMs).remaining / GRANT_SHARE);
    return Math.max(1, Math.min(MAX_GRANT, room, demand + 1 + previous.waiting));
  }

  /** One statement: the address's throttle, the key, the unused rest of `previous` given back, a grant asked for. */
  /** `hashKey`: hex(sha256(key)); the statement takes the bytes (made here, only when a lease is asked for). */
  async function lease(hashKey: string, address: string, publicKey: string | undefined, nowMs: number, previous: Lease | undefined): Promise<{ admission: Admission; lease: Lease | null }> {
    const want = wanted(previous, nowMs);
    const giveBack = previous ? previous.granted - previous.used : 0;
    // Retired before the statement: what it gives back can no longer be admitted from here (lost, not given twice, if it fails).
    if (previous) previous.granted = previous.used;
    // A change of api_keys announced while the statement runs (a revoke committing meanwhile) makes what it read stale at once;
    // writes of other tables (every PATCH writes connectors) do not.
    const feed = cacheTtlMs > 0 ? changeFeedOf(db) : null;
    const epoch = feed?.epochOf("api_keys");
    const { rows } = await sql<LeaseRow>`
      select a.*, k.*
        from admit_api_key_lease(
          ${Buffer.from(hashKey, "hex")}, ${publicKey ?? null}::text, ${address}, ${String(nowMs)}::bigint, ${failuresPerMinute}::int,
          ${live.perMinute}::int, ${live.burst}::int, ${test.perMinute}::int, ${test.burst}::int,
          ${want}::int, ${giveBack}::int, ${String(previous?.second ?? 0)}::bigint
        ) a
        left join api_keys k on k.id = a.key_id`.execute(db);
    const row = rows[0]!;
    if (row.throttled) throw authThrottle.refusal(address, failureCounts(row));
    // Unknown, revoked or another key's public id: already counted as a failure of the address.
    if (row.key_id === null) {
      authThrottle.noteFailure(address);
      if (leases.get(hashKey) === previous) leases.delete(hashKey);
      throw invalidKey();
    }
    const {
      key_id: _k, throttled: _t, failures_prev: _fp, failures_count: _fc, allowed, granted, minute_prev, minute_count, second_prev, second_count, ...record
    } = row;
    const actor = apiKeys.actorOf(record as ApiKeyRecord);
    Object.freeze(actor.scopes);
    const counts = { allowed, minutePrev: minute_prev, minuteCount: minute_count, secondPrev: second_prev, secondCount: second_count };
    if (!allowed) return { admission: { actor, check: verdict(counts, actor.rateLimit, nowMs) }, lease: null };
    const second = Math.floor(nowMs / SECOND_MS);
    const same = previous?.second === second;
    const usedEarlier = previous && same ? previous.usedEarlier + previous.used : 0;
    const next: Lease = {
      record: record as ApiKeyRecord,
      actor: Object.freeze(actor),
      readAt: performance.now(),
      second,
      granted,
      used: 1,
      counts,
      usedEarlier,
      stale: feed !== null && feed.epochOf("api_keys") !== epoch,
      pending: null,
      waiting: 0,
    };
    return { admission: admitted(next, nowMs), lease: next };
  }

  function remember(hashKey: string, next: Lease): void {
    leases.delete(hashKey);
    if (leases.size >= LEASE_CAPACITY) leases.delete(leases.keys().next().value!);
    leases.set(hashKey, next);
  }

  async function admitLeased(address: string, presented: string, publicKey: string | undefined): Promise<Admission> {
    const hashKey = hashApiKeyHex(presented);
    for (;;) {
      const nowMs = clock.now().getTime();
      const current = leases.get(hashKey);
      // An address this process saw fail asks the store each time: it may be throttled (by any process) by now.
      if (current && current.used < current.granted && usable(current, nowMs, publicKey) && !authThrottle.suspect(address)) {
        current.used++;
        return admitted(current, nowMs);
      }
      if (current?.pending) {
        current.waiting++;
        const outcome = await current.pending.finally(() => current.waiting--);
        // Refused for the key's limit just now: so is this request. Otherwise look again (a fresh grant, or ask on our own).
        if (outcome.kind === "refused") return outcome.admission;
        continue;
      }
      // A wrong Basic user name is a failure of its own, counted by the statement; the key's lease is not its business.
      if (current && publicKey !== undefined && publicKey !== current.record.public_key) {
        return (await lease(hashKey, address, publicKey, nowMs, undefined)).admission;
      }
      let settle!: (o: LeaseOutcome) => void;
      const pending = new Promise<LeaseOutcome>((resolve) => (settle = resolve));
      if (current) current.pending = pending;
      try {
        const { admission, lease: next } = await lease(hashKey, address, publicKey, nowMs, current);
        if (next && cacheTtlMs > 0) {
          if (current) next.waiting = current.waiting;
          remember(hashKey, next);
        }
        settle(next ? { kind: "granted" } : { kind: "refused", admission });
        return admission;
      } catch (err) {
        settle({ kind: "other" });
        throw err;
      } finally {
        if (current) current.pending = null;
      }
    }
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
      // Unknown or expired: counted as a failure of the address by the statement, and noted here as for a key.
      if (row.key_id === null) {
        authThrottle.noteFailure(address);
        throw invalidAccessToken();
      }
      const actor = apiKeys.actorOf(row);
      const counts = { allowed: row.allowed, minutePrev: row.minute_prev, minuteCount: row.minute_count, secondPrev: row.second_prev, secondCount: row.second_count };
      return { actor, check: verdict(counts, actor.rateLimit, nowMs) };
    },

    /** `address`: the client's (clientAddress); `publicKey`, when given (HTTP Basic), must name the same key. */
    async admit(address: string, presented: string, publicKey?: string): Promise<Admission> {
      authThrottle.refuseIfThrottled(address);
      if (rateLimiter.store !== "postgres") return admitCountingElsewhere(address, presented, publicKey);
      if (!looksLikeApiKey(presented)) throw await authThrottle.failed(address, invalidKey());
      return admitLeased(address, presented, publicKey);
    },

    /** Stops hearing changes (the database's feed outlives these services in tests). */
    close(): void {
      unsubscribe();
      leases.clear();
    },
  };
}

export type AdmissionService = ReturnType<typeof createAdmission>;
