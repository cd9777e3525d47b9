import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";

import { ConflictError } from "../kernel/errors.ts";
import { uuidv7 } from "../kernel/ids.ts";
import { KeyRing, openEnvelope, rewrapEnvelope, sealEnvelope, VaultError, type SealedEnvelope } from "./envelope.ts";

/** Where a secret lives: the entity, the record that owns it, and what it is for. */
export interface SecretPlace {
  entityId: string;
  /** The owning record's id (a connector, a customer connection, …). */
  ownerId: string;
  /** What the secret is, e.g. "connector.credentials", "shopify.tokens". */
  purpose: string;
}

export interface VaultStatus {
  newest_key_id: string;
  configured_key_ids: string[];
  /** Secrets per master key; `configured: false` ones cannot be opened by this process. */
  secrets_by_key: { key_id: string; secrets: number; configured: boolean }[];
  /** Secrets under a configured key other than the newest: what a rewrap still has to do. */
  remaining: number;
  /** Secrets under a key this process does not have. */
  unreadable: number;
}

export interface RewrapProgress extends VaultStatus {
  rewrapped: number;
}


/** The additional authenticated data that binds a sealed secret to its place. */
function placeAad(place: SecretPlace): Buffer {
  return Buffer.from(JSON.stringify(["patchbay.vault.v1", place.entityId, place.ownerId, place.purpose]));
}

/**
 * The vault: seals and opens secret blobs (any JSON value) stored in
 * vault_secrets, one per (owner, purpose). Callers pass their own transaction
 * so a secret is written or destroyed together with the row that points at it.
 * Nothing here logs, and no error carries a secret.
 */
export function createVault({ db, ring, clock }: { db: Database; ring: KeyRing; clock: Clock }) {
  /** What is sealed under which master key. An operator's question, answered from the master-key index. */
  async function status(): Promise<VaultStatus> {
    const counts = await db
      .selectFrom("vault_secrets")
      .select(["master_key_id", (eb) => eb.fn.countAll<string>().as("secrets")])
      .groupBy("master_key_id")
      .orderBy("master_key_id")
      .execute();
    const byKey = counts.map((c) => ({ key_id: c.master_key_id, secrets: Number(c.secrets), configured: ring.has(c.master_key_id) }));
    return {
      newest_key_id: ring.newest.id,
      configured_key_ids: ring.ids,
      secrets_by_key: byKey,
      remaining: byKey.filter((k) => k.configured && k.key_id !== ring.newest.id).reduce((n, k) => n + k.secrets, 0),
      unreadable: byKey.filter((k) => !k.configured).reduce((n, k) => n + k.secrets, 0),
    };
  }

  return {
    /** The ring's key ids, newest first. */
    keyIds: (): string[] => ring.ids,

    /** Seals `value` into its place, replacing whatever was there; returns the secret's id. */
    async sealSecret(executor: Database, place: SecretPlace, value: unknown): Promise<string> {
      const sealed = sealEnvelope(ring, placeAad(place), Buffer.from(JSON.stringify(value), "utf8"));
      const now = clock.now();
      const row = await executor
        .insertInto("vault_secrets")
        .values({
          id: uuidv7(now),
          entity_id: place.entityId,
          owner_id: place.ownerId,
          purpose: place.purpose,
          master_key_id: sealed.masterKeyId,
          wrapped_key: sealed.wrappedKey,
          ciphertext: sealed.ciphertext,
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) =>
          oc.columns(["owner_id", "purpose"]).doUpdateSet({
            entity_id: place.entityId,
            master_key_id: sealed.masterKeyId,
            wrapped_key: sealed.wrappedKey,
            ciphertext: sealed.ciphertext,
            updated_at: now,
          }),
        )
        .returning("id")
        .executeTakeFirstOrThrow();
      return row.id;
    },

    /**
     * The secret at `place`, or null if there is none. Throws VaultError when
     * its master key is not configured or the stored bytes do not belong here.
     */
    async openSecret<T = unknown>(executor: Database, place: SecretPlace): Promise<T | null> {
      const row = await executor
        .selectFrom("vault_secrets")
        .select(["master_key_id", "wrapped_key", "ciphertext"])
        .where("owner_id", "=", place.ownerId)
        .where("purpose", "=", place.purpose)
        .executeTakeFirst();
      if (!row) return null;
      const plaintext = openEnvelope(ring, placeAad(place), { masterKeyId: row.master_key_id, wrappedKey: row.wrapped_key, ciphertext: row.ciphertext });
      return JSON.parse(plaintext.toString("utf8")) as T;
    },

    /** Opens a sealed row the caller read itself (joined to its owner's row): the same checks as openSecret. */
    openSealed<T = unknown>(place: SecretPlace, sealed: SealedEnvelope): T {
      return JSON.parse(openEnvelope(ring, placeAad(place), sealed).toString("utf8")) as T;
    },

    /** Destroys the secret at `place` (ciphertext and wrapped data key); true if there was one. */
    async destroySecret(executor: Database, place: SecretPlace): Promise<boolean> {
      const gone = await executor.deleteFrom("vault_secrets").where("owner_id", "=", place.ownerId).where("purpose", "=", place.purpose).returning("id").execute();
      return gone.length > 0;
    },

    /** Destroys every secret the given records own; the number destroyed. */
    async destroySecretsOf(executor: Database, ownerIds: readonly string[]): Promise<number> {
      if (ownerIds.length === 0) return 0;
      const gone = await executor.deleteFrom("vault_secrets").where("owner_id", "in", ownerIds).returning("id").execute();
      return gone.length;
    },

    status,

    /**
     * Rewraps up to `batchSize` data keys that are under an older configured
     * master key, in one transaction whose rows are locked with SKIP LOCKED:
     * safe beside running servers and other rewraps, and resumable, since the
     * work left is simply "secrets not under the newest key". A secret that
     * does not open stops the batch with an error naming it (not its content).
     */
    async rewrapBatch(batchSize = 100): Promise<RewrapProgress> {
      const older = ring.ids.slice(1);
      let rewrapped = 0;
      if (older.length > 0) {
        rewrapped = await db.transaction().execute(async (trx) => {
          const rows = await trx
            .selectFrom("vault_secrets")
            .selectAll()
            .where("master_key_id", "in", older)
            .orderBy("master_key_id")
            .orderBy("id")
            .limit(batchSize)
            .forUpdate()
            .skipLocked()
            .execute();
          for (const r of rows) {
            let next;
            try {
              next = rewrapEnvelope(ring, placeAad({ entityId: r.entity_id, ownerId: r.owner_id, purpose: r.purpose }), {
                masterKeyId: r.master_key_id,
                wrappedKey: r.wrapped_key,
                ciphertext: r.ciphertext,
              });
            } catch (err) {
              if (err instanceof VaultError) {
                throw new ConflictError(
                  "secret_does_not_open",
                  `Secret ${r.id} (${r.purpose} of record ${r.owner_id}) could not be rewrapped: ${err.message}`,
                  "Nothing in this batch was changed. Restore that secret's row from a backup, or destroy it (for a connector: DELETE …/credentials), then run the rewrap again.",
                );
              }
              throw err;
            }
            await trx
              .updateTable("vault_secrets")
              .set({ master_key_id: next.masterKeyId, wrapped_key: next.wrappedKey, updated_at: clock.now() })
              .where("id", "=", r.id)
              .execute();
          }
          return rows.length;
        });
      }
      return { rewrapped, ...(await status()) };
    },
  };
}

export type Vault = ReturnType<typeof createVault>;
