import type { CompiledQuery, Insertable } from "kysely";
import type { ConnectionRecord, ConnectionsTable, ConnectionUpdate } from "../db/schema.ts";
import type { Database } from "../db/index.ts";

/**
 * The connection store: the only code with SQL on `connections`
 * (test/table-owners.test.ts). Plain statements; the rules (who may link,
 * what a status change emits and audits, the sync's lease and backoff) live
 * in the connection services. The purchase purge's one statement also names
 * the table.
 */

/** The entity's connection by id, if any; locked for the caller's transaction with `lock`. */
export async function selectOwnedConnection(executor: Database, entityId: string, connectionId: string, lock = false): Promise<ConnectionRecord | undefined> {
  return (await executor.executeQuery(ownedConnectionStatement(executor, entityId, connectionId, lock))).rows[0];
}

/** The statement selectOwnedConnection makes: a write's first, which may ride ahead with an earlier one (db/lookahead.ts). */
export function ownedConnectionStatement(executor: Database, entityId: string, connectionId: string, lock: boolean): CompiledQuery<ConnectionRecord> {
  return executor
    .selectFrom("connections")
    .selectAll()
    .where("id", "=", connectionId)
    .where("entity_id", "=", entityId)
    .$if(lock, (qb) => qb.forUpdate())
    .compile();
}

/** The customer's connection by id (of the entity), if any. */
export function selectCustomerConnection(db: Database, { id, entityId, customerId }: { id: string; entityId: string; customerId: string }): Promise<ConnectionRecord | undefined> {
  return db.selectFrom("connections").selectAll().where("id", "=", id).where("entity_id", "=", entityId).where("customer_id", "=", customerId).executeTakeFirst();
}

/** One connection by id, locked for the caller's transaction. */
export function lockConnection(trx: Database, id: string): Promise<ConnectionRecord | undefined> {
  return trx.selectFrom("connections").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
}

/** The connection, locked, only while it is active with this credentials version (the login a re-check read). */
export function lockActiveConnectionAtVersion(trx: Database, id: string, credentialsVersion: number): Promise<ConnectionRecord | undefined> {
  return trx
    .selectFrom("connections")
    .selectAll()
    .where("id", "=", id)
    .where("status", "=", "active")
    .where("credentials_version", "=", credentialsVersion)
    .forUpdate()
    .executeTakeFirst();
}

/** The customer's newest open (not disconnected) connection to the retailer, locked. */
export function lockOpenConnectionOf(trx: Database, { entityId, customerId, retailerId }: { entityId: string; customerId: string; retailerId: string }): Promise<ConnectionRecord | undefined> {
  return trx
    .selectFrom("connections")
    .selectAll()
    .where("entity_id", "=", entityId)
    .where("customer_id", "=", customerId)
    .where("retailer_id", "=", retailerId)
    .where("status", "!=", "disconnected")
    .orderBy("id", "desc")
    .limit(1)
    .forUpdate()
    .executeTakeFirst();
}

/** A customer's connections, oldest first. */
export function listCustomerConnections(db: Database, entityId: string, customerId: string): Promise<ConnectionRecord[]> {
  return db.selectFrom("connections").selectAll().where("entity_id", "=", entityId).where("customer_id", "=", customerId).orderBy("id").execute();
}

export function insertConnection(trx: Database, values: Insertable<ConnectionsTable>): Promise<ConnectionRecord> {
  return trx.insertInto("connections").values(values).returningAll().executeTakeFirstOrThrow();
}

/** Updates one connection by id and answers the row as it now is. */
export function updateConnection(trx: Database, id: string, set: ConnectionUpdate): Promise<ConnectionRecord> {
  return trx.updateTable("connections").set(set).where("id", "=", id).returningAll().executeTakeFirstOrThrow();
}

/** Updates one connection by id, answering nothing. */
export async function setConnectionFields(trx: Database, id: string, set: ConnectionUpdate): Promise<void> {
  await trx.updateTable("connections").set(set).where("id", "=", id).execute();
}

export async function deleteConnectionRow(trx: Database, id: string): Promise<void> {
  await trx.deleteFrom("connections").where("id", "=", id).execute();
}

/** A login was sealed: active, the credentials version moves on, the link attempts start over. */
export function markConnectionLinked(trx: Database, id: string, at: Date): Promise<ConnectionRecord> {
  return trx
    .updateTable("connections")
    .set((eb) => ({
      status: "active",
      credentials_version: eb("credentials_version", "+", 1),
      linked_at: at,
      link_attempts: 0,
      last_checked_at: at,
      updated_at: at,
    }))
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Counts one link attempt unless `max` are used up; answers whether it did. */
export async function reserveLinkAttempt(db: Database, id: string, max: number): Promise<boolean> {
  const reserved = await db
    .updateTable("connections")
    .set((eb) => ({ link_attempts: eb("link_attempts", "+", 1) }))
    .where("id", "=", id)
    .where("link_attempts", "<", max)
    .returning("id")
    .executeTakeFirst();
  return reserved !== undefined;
}

/** Gives a reserved link attempt back. */
export async function releaseLinkAttempt(db: Database, id: string): Promise<void> {
  await db.updateTable("connections").set((eb) => ({ link_attempts: eb("link_attempts", "-", 1) })).where("id", "=", id).where("link_attempts", ">", 0).execute();
}

/** Claims up to `limit` active connections last checked at or before `cutoff` (SKIP LOCKED), marking them checked `now`. */
export function claimConnectionsDueForCheck(db: Database, { now, cutoff, limit }: { now: Date; cutoff: Date; limit: number }): Promise<ConnectionRecord[]> {
  return db
    .updateTable("connections")
    .set({ last_checked_at: now })
    .where("id", "in", (eb) =>
      eb
        .selectFrom("connections")
        .select("id")
        .where("status", "=", "active")
        .where("last_checked_at", "<=", cutoff)
        .orderBy("last_checked_at")
        .orderBy("id")
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .returningAll()
    .execute();
}

/** Takes the sync lease of an active connection under `token` unless a live lease holds it. */
export function takeSyncLease(db: Database, { id, token, until, now }: { id: string; token: string; until: Date; now: Date }): Promise<ConnectionRecord | undefined> {
  return db
    .updateTable("connections")
    .set({ sync_lease_token: token, sync_lease_until: until })
    .where("id", "=", id)
    .where("status", "=", "active")
    .where((eb) => eb.or([eb("sync_lease_until", "is", null), eb("sync_lease_until", "<=", now)]))
    .returningAll()
    .executeTakeFirst();
}

/** The row, locked, if the sync lease `token` still holds it and it is still active. */
export function lockLeasedConnection(trx: Database, id: string, token: string): Promise<ConnectionRecord | undefined> {
  return trx
    .selectFrom("connections")
    .selectAll()
    .where("id", "=", id)
    .where("sync_lease_token", "=", token)
    .where("status", "=", "active")
    .forUpdate()
    .executeTakeFirst();
}

/** Sets fields of the connection only while the sync lease `token` holds it. */
export async function setLeasedConnectionFields(executor: Database, id: string, token: string, set: ConnectionUpdate): Promise<void> {
  await executor.updateTable("connections").set(set).where("id", "=", id).where("sync_lease_token", "=", token).execute();
}

/** A failed sync: one more failure, the next try at `nextSyncAt`, the lease `token` released. */
export async function backOffSync(db: Database, { id, token, nextSyncAt }: { id: string; token: string; nextSyncAt: Date }): Promise<void> {
  await db
    .updateTable("connections")
    .set((eb) => ({
      sync_failures: eb("sync_failures", "+", 1),
      next_sync_at: nextSyncAt,
      sync_lease_token: null,
      sync_lease_until: null,
    }))
    .where("id", "=", id)
    .where("sync_lease_token", "=", token)
    .execute();
}

/** Ids of active connections whose sync is due (never synced, or next_sync_at passed), oldest due first. */
export async function connectionsDueForSync(db: Database, now: Date, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom("connections")
    .select("id")
    .where("status", "=", "active")
    .where((eb) => eb.or([eb("next_sync_at", "is", null), eb("next_sync_at", "<=", now)]))
    .orderBy("next_sync_at")
    .orderBy("id")
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}
