import { CompiledQuery } from "kysely";
import type { ConnectorRecord, ConnectorUpdate, NewConnector } from "../db/schema.ts";
import type { Database } from "../db/index.ts";
import { CONNECTOR_ROW_COLUMNS } from "./connector-row.ts";

/**
 * The connector store: the only code with SQL on `connectors` (issue 14, one
 * owner per table; test/table-owners.test.ts). Plain statements, no rules:
 * the lifecycle rules (recovery window, conflicts, restore, purge) live once
 * in connectors.ts. The outbox's fan-out statement and the Shopify grant
 * store's joins also name the table, for one round trip each.
 */

/** Updates one connector by id in `trx` and answers the row as it now is. */
export function updateConnector(trx: Database, id: string, set: ConnectorUpdate): Promise<ConnectorRecord> {
  return trx.updateTable("connectors").set(set).where("id", "=", id).returningAll().executeTakeFirstOrThrow();
}

/** Updates one connector by id; undefined when it is gone. */
export function updateConnectorIfPresent(trx: Database, id: string, set: ConnectorUpdate): Promise<ConnectorRecord | undefined> {
  return trx.updateTable("connectors").set(set).where("id", "=", id).returningAll().executeTakeFirst();
}

/** Updates one connector by id, answering nothing. */
export async function setConnectorFields(trx: Database, id: string, set: ConnectorUpdate): Promise<void> {
  await trx.updateTable("connectors").set(set).where("id", "=", id).execute();
}

/** The entity's connector of one type, if any; locked for the caller's transaction with `forUpdate`. */
export async function selectConnector(executor: Database, entityId: string, type: string, { forUpdate = false } = {}): Promise<ConnectorRecord | undefined> {
  // Every GET and write of a connector by type: fixed text, not built by the query builder each time (issue 16).
  const { rows } = await executor.executeQuery<ConnectorRecord>(CompiledQuery.raw(forUpdate ? SELECT_CONNECTOR_FOR_UPDATE : SELECT_CONNECTOR, [entityId, type]));
  return rows[0];
}
const SELECT_CONNECTOR = `select * from "connectors" where "entity_id" = $1 and "connector_type" = $2`;
const SELECT_CONNECTOR_FOR_UPDATE = `${SELECT_CONNECTOR} for update`;

/** The statement selectConnector(…, { forUpdate: true }) makes: a write's first, which may ride ahead with an earlier one (db/lookahead.ts). */
export function lockConnectorStatement(entityId: string, type: string): CompiledQuery<ConnectorRecord> {
  return CompiledQuery.raw(SELECT_CONNECTOR_FOR_UPDATE, [entityId, type]);
}

/** One connector by id, if any; locked for the caller's transaction with `forUpdate`. */
export function selectConnectorById(executor: Database, id: string, { forUpdate = false } = {}): Promise<ConnectorRecord | undefined> {
  const query = executor.selectFrom("connectors").selectAll().where("id", "=", id);
  return (forUpdate ? query.forUpdate() : query).executeTakeFirst();
}

/** Inserts a connector; undefined when the entity already has one of that type (the unique (entity_id, connector_type)). */
export function insertConnectorRow(trx: Database, values: NewConnector): Promise<ConnectorRecord | undefined> {
  return trx
    .insertInto("connectors")
    .values(values)
    .onConflict((oc) => oc.columns(["entity_id", "connector_type"]).doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** Deletes one connector (its sealed secrets are the vault's to destroy). */
export async function deleteConnector(trx: Database, id: string): Promise<void> {
  await trx.deleteFrom("connectors").where("id", "=", id).execute();
}

/** Deletes connectors by id (their sealed secrets are the vault's to destroy). */
export async function deleteConnectors(trx: Database, ids: readonly string[]): Promise<void> {
  await trx.deleteFrom("connectors").where("id", "in", ids).execute();
}

/** An entity's connectors (only its sandbox ones for a test key), for a page of keysetPage to order and cut. */
export function connectorsOf(db: Database, entityId: string, sandboxOnly: boolean) {
  return db
    .selectFrom("connectors")
    .select(CONNECTOR_ROW_COLUMNS)
    .where("entity_id", "=", entityId)
    .$if(sandboxOnly, (qb) => qb.where("mode", "=", "sandbox"));
}

/** The connected shop connectors of an entity (sandbox ones only for a test key): their ids and integration numbers. */
export function visibleShopConnectorIds(db: Database, entityId: string, shopTypes: readonly string[], sandboxOnly: boolean): Promise<{ id: string; shop_integration_id: number }[]> {
  return db
    .selectFrom("connectors")
    .select(["id", "shop_integration_id"])
    .where("entity_id", "=", entityId)
    .where("connector_type", "in", shopTypes as string[])
    .where("disconnected_at", "is", null)
    .$if(sandboxOnly, (qb) => qb.where("mode", "=", "sandbox"))
    .execute() as Promise<{ id: string; shop_integration_id: number }[]>;
}

/** Marks a connected connector disconnected; undefined when it already was (or is gone). */
export function markConnectorDisconnected(trx: Database, id: string, now: Date): Promise<ConnectorRecord | undefined> {
  return trx
    .updateTable("connectors")
    .set({ is_active: false, disconnected_at: now, updated_at: now })
    .where("id", "=", id)
    .where("disconnected_at", "is", null)
    .returningAll()
    .executeTakeFirst();
}

/** Up to `limit` connectors disconnected at or before `cutoff`, oldest first, locked with SKIP LOCKED. */
export function lockConnectorsDisconnectedBefore(trx: Database, cutoff: Date, limit: number): Promise<{ id: string; entity_id: string }[]> {
  return trx
    .selectFrom("connectors")
    .select(["id", "entity_id"])
    .where("disconnected_at", "<=", cutoff)
    .orderBy("disconnected_at")
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

/** Ids of active, connected connectors with credentials last checked before `staleBefore` (never-checked first). */
export async function connectorsDueForCheck(db: Database, staleBefore: Date, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom("connectors")
    .select("id")
    .where("is_active", "=", true)
    .where("disconnected_at", "is", null)
    .where("credentials_secret_id", "is not", null)
    // A Shopify grant Shopify refused stays refused until the merchant approves again: nothing to re-check.
    .where((eb) => eb.not(eb.and([eb("connector_type", "=", "shopify"), eb("sync_status", "=", "auth_failed")])))
    .where((eb) => eb.or([eb("last_sync_at", "is", null), eb("last_sync_at", "<=", staleBefore)]))
    .orderBy("last_sync_at", (ob) => ob.asc().nullsFirst())
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

/** The connected connector of `type` whose inbound webhook URL carries `token`. */
export function selectConnectorByInboundToken(
  db: Database,
  type: string,
  token: string,
): Promise<Pick<ConnectorRecord, "id" | "entity_id" | "connector_type" | "mode"> | undefined> {
  return db
    .selectFrom("connectors")
    .select(["id", "entity_id", "connector_type", "mode"])
    .where("inbound_token", "=", token)
    .where("connector_type", "=", type)
    .where("disconnected_at", "is", null)
    .executeTakeFirst();
}

/** The entity's connected connector of one of `types` with this shop integration id; locked with `forUpdate`. */
export async function selectShopConnector(
  executor: Database,
  where: { entityId: string; id: number; types: readonly string[]; forUpdate: boolean },
): Promise<ConnectorRecord | undefined> {
  return (await executor.executeQuery(shopConnectorStatement(executor, where))).rows[0];
}

/** The statement selectShopConnector makes: a write's first, which may ride ahead with an earlier one (db/lookahead.ts). */
export function shopConnectorStatement(
  executor: Database,
  { entityId, id, types, forUpdate }: { entityId: string; id: number; types: readonly string[]; forUpdate: boolean },
): CompiledQuery<ConnectorRecord> {
  return executor
    .selectFrom("connectors")
    .selectAll()
    .where("shop_integration_id", "=", id)
    .where("entity_id", "=", entityId)
    .where("connector_type", "in", types)
    .where("disconnected_at", "is", null)
    .$if(forUpdate, (qb) => qb.forUpdate())
    .compile();
}

export type ConnectorSortColumn = keyof ConnectorRecord & string;

/** The entity's connected connectors of `types`, ordered by `sort` (nulls last) then shop integration id. */
export function listShopConnectors(
  db: Database,
  { entityId, types, sandboxOnly, sort }: { entityId: string; types: readonly string[]; sandboxOnly: boolean; sort: readonly { column: ConnectorSortColumn; direction: "asc" | "desc" }[] },
): Promise<ConnectorRecord[]> {
  let q = db
    .selectFrom("connectors")
    .selectAll()
    .where("entity_id", "=", entityId)
    .where("connector_type", "in", types)
    .where("disconnected_at", "is", null)
    .$if(sandboxOnly, (qb) => qb.where("mode", "=", "sandbox"));
  for (const k of sort) q = q.orderBy(k.column, (ob) => (k.direction === "asc" ? ob.asc() : ob.desc()).nullsLast());
  return q.orderBy("shop_integration_id").execute();
}

/**
 * The entity's connector of `type` with its sealed secret of `purpose`, in
 * one query (the proxy's hot path: one round trip). The vault opens the
 * sealed columns.
 */
export function selectConnectorWithSealed(db: Database, entityId: string, type: string, purpose: string) {
  return db
    .selectFrom("connectors as c")
    .leftJoin("vault_secrets as v", (j) => j.onRef("v.owner_id", "=", "c.id").on("v.purpose", "=", purpose))
    .selectAll("c")
    .select(["v.master_key_id as sealed_master_key_id", "v.wrapped_key as sealed_wrapped_key", "v.ciphertext as sealed_ciphertext"])
    .where("c.entity_id", "=", entityId)
    .where("c.connector_type", "=", type)
    .executeTakeFirst();
}
