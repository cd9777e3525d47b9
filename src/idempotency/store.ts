import { randomUUID } from "node:crypto";
import type { Clock } from "../clock.ts";
import type { Database } from "../db/index.ts";
import { ConflictError, ValidationError } from "../services/errors.ts";
import { requestFingerprint, type FingerprintInput } from "./fingerprint.ts";

/** How long a key answers with its stored response (SPEC §3). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
export const MAX_KEY_LENGTH = 255;

/** A response as it went out, to be replayed byte for byte. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Proof that this request holds the key's lease and is the one that executes. */
export interface Claim {
  scope: string;
  key: string;
  leaseToken: string;
}

export type BeginOutcome = { kind: "execute"; claim: Claim } | { kind: "replay"; response: StoredResponse };

/** The scope of an API key's idempotency keys: its entity, and (as at Stripe) its mode, so a test key never replays a live key's answer. */
export function entityScope(actor: { entityId: string; mode: "live" | "test" }): string {
  return `entity:${actor.entityId}:${actor.mode}`;
}

export interface IdempotencyStoreDeps {
  db: Database;
  clock: Clock;
  /** How long an in-progress claim is held before a retry may take it over. */
  leaseMs: number;
}

/**
 * The Idempotency-Key rules (SPEC §3), with PostgreSQL as the referee: the
 * claim is one conditional upsert on the primary key (scope, key), so two
 * processes can never both hold one key.
 */
export function createIdempotencyStore({ db, clock, leaseMs }: IdempotencyStoreDeps) {
  async function tryClaim(scope: string, key: string, fingerprint: Buffer): Promise<Claim | null> {
    const now = clock.now();
    const leaseToken = randomUUID();
    const claimed = await db
      .insertInto("idempotency_keys")
      .values({
        scope,
        key,
        fingerprint,
        state: "in_progress",
        lease_token: leaseToken,
        locked_until: new Date(now.getTime() + leaseMs),
        response_status: null,
        response_headers: null,
        response_body: null,
        created_at: now,
        expires_at: new Date(now.getTime() + IDEMPOTENCY_TTL_MS),
      })
      .onConflict((oc) =>
        oc
          .columns(["scope", "key"])
          .doUpdateSet((eb) => ({
            fingerprint: eb.ref("excluded.fingerprint"),
            state: "in_progress",
            lease_token: eb.ref("excluded.lease_token"),
            locked_until: eb.ref("excluded.locked_until"),
            response_status: null,
            response_headers: null,
            response_body: null,
            created_at: eb.ref("excluded.created_at"),
            expires_at: eb.ref("excluded.expires_at"),
          }))
          // Taken over only when the old record is dead: expired, or an
          // execution of this same request whose process stopped renewing it.
          .where((eb) =>
            eb.or([
              eb("idempotency_keys.expires_at", "<=", now),
              eb.and([
                eb("idempotency_keys.state", "=", "in_progress"),
                eb("idempotency_keys.locked_until", "<=", now),
                eb("idempotency_keys.fingerprint", "=", eb.ref("excluded.fingerprint")),
              ]),
            ]),
          ),
      )
      .returning("lease_token")
      .executeTakeFirst();
    return claimed?.lease_token === leaseToken ? { scope, key, leaseToken } : null;
  }

  return {
    /**
     * Called right before a request executes. Answers "execute" (this request
     * now holds the key) or "replay" (the stored response of the same
     * request); throws idempotency_key_mismatch (the key belongs to another
     * request) or idempotency_key_in_use (the same request is executing).
     */
    async begin(request: FingerprintInput): Promise<BeginOutcome> {
      assertValidKey(request.key);
      const fingerprint = requestFingerprint(request);
      // The second round covers a record that vanished between the two statements (released, purged).
      for (let round = 0; round < 2; round++) {
        const claim = await tryClaim(request.scope, request.key, fingerprint);
        if (claim) return { kind: "execute", claim };
        const existing = await db
          .selectFrom("idempotency_keys")
          .select(["fingerprint", "state", "response_status", "response_headers", "response_body"])
          .where("scope", "=", request.scope)
          .where("key", "=", request.key)
          .executeTakeFirst();
        if (!existing) continue;
        if (!Buffer.from(existing.fingerprint).equals(fingerprint)) throw keyMismatch();
        if (existing.state === "in_progress") throw keyInUse();
        return {
          kind: "replay",
          response: { status: existing.response_status!, headers: existing.response_headers ?? {}, body: Buffer.from(existing.response_body!) },
        };
      }
      throw keyInUse();
    },

    /** Stores the response of an executed request. False when the lease was lost (it ran past it and a retry took over). */
    async complete(claim: Claim, response: StoredResponse): Promise<boolean> {
      const result = await db
        .updateTable("idempotency_keys")
        .set({
          state: "done",
          lease_token: null,
          locked_until: null,
          response_status: response.status,
          response_headers: JSON.stringify(response.headers),
          response_body: response.body,
        })
        .where("scope", "=", claim.scope)
        .where("key", "=", claim.key)
        .where("lease_token", "=", claim.leaseToken)
        .executeTakeFirst();
      return result.numUpdatedRows === 1n;
    },

    /** Gives the key back unused: the request did not produce a response worth keeping (a 5xx). */
    async release(claim: Claim): Promise<void> {
      await db.deleteFrom("idempotency_keys").where("scope", "=", claim.scope).where("key", "=", claim.key).where("lease_token", "=", claim.leaseToken).execute();
    },
  };
}

export type IdempotencyStore = ReturnType<typeof createIdempotencyStore>;

function assertValidKey(key: string): void {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new ValidationError(
      key.length === 0 ? "The Idempotency-Key header is empty." : `The Idempotency-Key header is ${key.length} characters long; at most ${MAX_KEY_LENGTH} are allowed.`,
      { param: "Idempotency-Key", hint: "Send a unique value per logical request, such as a UUID." },
      "idempotency_key_invalid",
    );
  }
}

function keyMismatch(): ConflictError {
  return new ConflictError(
    "idempotency_key_mismatch",
    "This Idempotency-Key was already used for a different request (method, path or body).",
    "A retry must repeat the original request exactly; a new request needs a new key.",
  );
}

function keyInUse(): ConflictError {
  return new ConflictError(
    "idempotency_key_in_use",
    "A request with this Idempotency-Key is still being processed.",
    "Retry in a moment: once it has finished, the retry receives its response.",
    { retry_after: 1 },
  );
}
