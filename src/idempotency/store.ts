import { createHash } from "node:crypto";
import { CompiledQuery, sql } from "kysely";
import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import { deferrable } from "../db/deferred.ts";
import { withLookahead } from "../db/lookahead.ts";
import { requestTransaction, sessionsOf, type RequestTransaction } from "../db/request-transaction.ts";
import { ConflictError, ValidationError } from "../kernel/errors.ts";
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

/**
 * Proof that this request holds the key and is the one that executes. The
 * request runs inside `tx` (`tx.run`); its work and its stored answer commit
 * together in `complete`, or vanish together in `abandon` — or when the process
 * dies, since PostgreSQL rolls back the transaction of a lost connection.
 */
export interface Claim {
  scope: string;
  key: string;
  fingerprint: Buffer;
  tx: RequestTransaction;
  /** False once the key was lost (a rare race after a service's rollback): then the answer is not stored. */
  held: boolean;
}

export type BeginOutcome = { kind: "execute"; claim: Claim } | { kind: "replay"; response: StoredResponse };

/**
 * Test-only crash points of an idempotent write, in order (PATCHBAY_FAULT_CRASH;
 * RELIABILITY.md): before the key is claimed; claimed, nothing done; the
 * service's own transaction finished (inside the request's); the answer
 * serialized, not yet stored; committed, the answer not yet sent.
 */
import { FAULT_STEPS, type FaultStep } from "./fault-steps.ts";
export { FAULT_STEPS, type FaultStep };

/** The fault switch of PATCHBAY_FAULT_CRASH: at its step, with its probability, the process dies at once (SIGKILL: no cleanup, as in a crash). */
export function crashSwitch(setting: { step: FaultStep; probability: number } | null): ((step: FaultStep) => void) | undefined {
  if (!setting) return undefined;
  return (step) => {
    if (step === setting.step && Math.random() < setting.probability) process.kill(process.pid, "SIGKILL");
  };
}

/** The scope of an API key's idempotency keys: its entity, and (as at Stripe) its mode, so a test key never replays a live key's answer. */
export function entityScope(actor: { entityId: string; mode: "live" | "test" }): string {
  return `entity:${actor.entityId}:${actor.mode}`;
}

export interface IdempotencyStoreDeps {
  db: Database;
  clock: Clock;
  /** The fault switch: called at each step of an idempotent write; crashes the process when told to (tests only). */
  fault?: (step: FaultStep) => void;
  /** Keys the request fingerprints (fingerprint.ts fingerprintKey): bodies may hold secrets. */
  fingerprintKey?: Buffer | null;
}

/** Keys being executed in this process, per embedded database (one process owns it: the data dir is locked). */
const executingHere = new WeakMap<object, Set<string>>();

/**
 * The Idempotency-Key rules (SPEC §3). On PostgreSQL the key being executed
 * is an advisory lock of the executing request's transaction, taken without
 * waiting (a second caller is told the key is in use), and the answer is
 * written by that same transaction: a key is answered exactly when its work
 * committed. The embedded database is one session of one process: there the
 * lock is a set in this process, and the transaction begins with the work's
 * first statement, so a request waiting on the key never holds the session.
 */
export function createIdempotencyStore({ db, clock, fault, fingerprintKey = null }: IdempotencyStoreDeps) {
  const shared = sessionsOf(db) === "many";
  const local = executingHere.get(db) ?? new Set<string>();
  executingHere.set(db, local);
  const noFault = () => {};

  async function claimOnPostgres(request: FingerprintInput, fingerprint: Buffer, lookahead: CompiledQuery | null): Promise<BeginOutcome> {
    const tx = requestTransaction(db);
    try {
      const statement = sql<ClaimRow>`select * from idempotency_claim(${lockId(request.scope, request.key)}::bigint, ${request.scope}, ${request.key}, ${clock.now()})`.compile(db);
      // The handler's first statement, when the route knows it, rides with the claim (db/lookahead.ts).
      const row = (await tx.execute<ClaimRow>(withLookahead(statement, lookahead))).rows[0];
      if (!row?.locked) throw keyInUse();
      if (row.fingerprint !== null) {
        await tx.rollback();
        return stored(row, fingerprint);
      }
      const claim: Claim = { scope: request.scope, key: request.key, fingerprint, tx, held: true };
      // A service's rollback rolled the request back to its start, and the lock with it: take it again to store the error answer.
      tx.onRestart = async () => {
        const again = (await tx.execute<ClaimRow>(statement)).rows[0];
        // Taken meanwhile by a retry of the same request: that one's answer is the key's; this one stores nothing.
        claim.held = again?.locked === true && again.fingerprint === null;
      };
      return { kind: "execute", claim };
    } catch (err) {
      await tx.rollback();
      throw err;
    }
  }

  async function claimEmbedded(request: FingerprintInput, fingerprint: Buffer): Promise<BeginOutcome> {
    const id = `${request.scope}\0${request.key}`;
    if (local.has(id)) throw keyInUse();
    local.add(id);
    try {
      const row = await db
        .selectFrom("idempotency_keys")
        .select(["fingerprint", "response_status", "response_headers", "response_body"])
        .where("scope", "=", request.scope)
        .where("key", "=", request.key)
        .where("state", "=", "done")
        .where("expires_at", ">", clock.now())
        .executeTakeFirst();
      if (row) {
        local.delete(id);
        return stored(row, fingerprint);
      }
    } catch (err) {
      local.delete(id);
      throw err;
    }
    const tx = requestTransaction(db);
    tx.onEnd = () => local.delete(id);
    return { kind: "execute", claim: { scope: request.scope, key: request.key, fingerprint, tx, held: true } };
  }

  return {
    fault: fault ?? noFault,

    /**
     * Called right before a request executes. Answers "execute" (this request
     * now holds the key: run it inside `claim.tx`) or "replay" (the stored
     * response of the same request); throws idempotency_key_mismatch (the key
     * belongs to another request) or idempotency_key_in_use (the same key is
     * being executed right now). `lookahead`: the statement the handler will
     * make first, sent with the claim (PostgreSQL; db/lookahead.ts).
     */
    async begin(request: FingerprintInput, { lookahead = null }: { lookahead?: CompiledQuery | null } = {}): Promise<BeginOutcome> {
      assertValidKey(request.key);
      const fingerprint = requestFingerprint(request, fingerprintKey);
      const outcome = shared ? await claimOnPostgres(request, fingerprint, lookahead) : await claimEmbedded(request, fingerprint);
      if (outcome.kind === "execute") outcome.claim.tx.onNestedCommit = () => (fault ?? noFault)("after_write");
      return outcome;
    },

    /** Stores the answer of an executed request and commits it with the request's work. Throws (having rolled back) when the commit fails. */
    async complete(claim: Claim, response: StoredResponse): Promise<void> {
      const now = clock.now();
      const write = CompiledQuery.raw(STORE_ANSWER, [
        claim.scope,
        claim.key,
        claim.fingerprint,
        response.status,
        JSON.stringify(response.headers),
        response.body,
        now,
        new Date(now.getTime() + IDEMPOTENCY_TTL_MS),
      ]);
      try {
        if (!claim.held) return await claim.tx.rollback();
        // Held and sent with the COMMIT (db/deferred.ts): the answer, any writes the request left pending and the commit are one round trip.
        await claim.tx.execute(deferrable(write));
        await claim.tx.commit();
      } catch (err) {
        await claim.tx.rollback();
        throw err;
      }
    },

    /** Gives the key back unused and undoes the request's work: it did not produce an answer worth keeping (a 5xx). */
    async abandon(claim: Claim): Promise<void> {
      await claim.tx.rollback();
    },
  };
}

export type IdempotencyStore = ReturnType<typeof createIdempotencyStore>;

/**
 * The stored answer, one statement of fixed text (built once, not by the query
 * builder for every write: issue 16). Under the key's lock no live answer
 * exists: what is there is expired, or an older version's lease.
 */
const STORE_ANSWER = `insert into idempotency_keys
    (scope, key, fingerprint, state, lease_token, locked_until, response_status, response_headers, response_body, created_at, expires_at)
  values ($1, $2, $3, 'done', null, null, $4, $5, $6, $7, $8)
  on conflict (scope, key) do update set
    fingerprint = excluded.fingerprint, state = 'done', lease_token = null, locked_until = null,
    response_status = excluded.response_status, response_headers = excluded.response_headers,
    response_body = excluded.response_body, created_at = excluded.created_at, expires_at = excluded.expires_at`;

interface ClaimRow {
  locked: boolean;
  fingerprint: Uint8Array | null;
  response_status: number | null;
  response_headers: Record<string, string> | null;
  response_body: Uint8Array | null;
}

function stored(row: Omit<ClaimRow, "locked">, fingerprint: Buffer): BeginOutcome {
  if (!Buffer.from(row.fingerprint!).equals(fingerprint)) throw keyMismatch();
  return { kind: "replay", response: { status: row.response_status!, headers: row.response_headers ?? {}, body: Buffer.from(row.response_body!) } };
}

/** The advisory lock of a key: 64 bits of SHA-256 over scope and key (a collision only ever makes a key wait). */
function lockId(scope: string, key: string): string {
  return createHash("sha256").update(`${scope}\0${key}`).digest().readBigInt64BE(0).toString();
}

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

/** Deletes up to `batchSize` records expired at `now` (the purge's batch); answers how many. */
export async function deleteExpiredKeys(db: Database, now: Date, batchSize: number): Promise<number> {
  const result = await sql`
    delete from idempotency_keys
     where ctid = any (array(select ctid from idempotency_keys where expires_at <= ${now} limit ${batchSize}))`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}
