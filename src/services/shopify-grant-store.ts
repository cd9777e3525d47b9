import type { Insertable, Updateable } from "kysely";
import type { ShopifyGrantRecord, ShopifyGrantsTable } from "../db/schema.ts";
import type { Database } from "../db/index.ts";

/**
 * The Shopify grant store: the only code with SQL on `shopify_grants`
 * (test/table-owners.test.ts). The refresh rules (claim a generation,
 * complete only that one) live in shopify-grants.ts; a refresh's read and the
 * due list join the grant's connector for one round trip.
 */

type GrantValues = Omit<Insertable<ShopifyGrantsTable>, "connector_id" | "created_at" | "generation">;

/** The connector's grant, if any. */
export function selectGrant(executor: Database, connectorId: string): Promise<ShopifyGrantRecord | undefined> {
  return executor.selectFrom("shopify_grants").selectAll().where("connector_id", "=", connectorId).executeTakeFirst();
}

/** The grant's shop and status, if any. */
export function selectGrantStatus(executor: Database, connectorId: string): Promise<Pick<ShopifyGrantRecord, "shop" | "status"> | undefined> {
  return executor.selectFrom("shopify_grants").select(["shop", "status"]).where("connector_id", "=", connectorId).executeTakeFirst();
}

/** Writes the connector's grant, replacing an earlier one (its generation moves on). */
export async function upsertGrant(trx: Database, connectorId: string, values: GrantValues, now: Date): Promise<void> {
  await trx
    .insertInto("shopify_grants")
    .values({ connector_id: connectorId, ...values, created_at: now })
    .onConflict((oc) => oc.column("connector_id").doUpdateSet((eb) => ({ ...values, generation: eb("shopify_grants.generation", "+", 1) })))
    .execute();
}

/** Sets fields of the connector's grant (whatever its generation). */
export async function setGrantFields(executor: Database, connectorId: string, set: Updateable<ShopifyGrantsTable>): Promise<void> {
  await executor.updateTable("shopify_grants").set(set).where("connector_id", "=", connectorId).execute();
}

export async function deleteGrant(trx: Database, connectorId: string): Promise<void> {
  await trx.deleteFrom("shopify_grants").where("connector_id", "=", connectorId).execute();
}

/** What a refresh decides on: the grant's generation, status and expiries, with its connector's entity and disconnect. */
export function selectGrantForRefresh(db: Database, connectorId: string) {
  return db
    .selectFrom("shopify_grants")
    .innerJoin("connectors", "connectors.id", "shopify_grants.connector_id")
    .select(["shopify_grants.generation", "shopify_grants.status", "shopify_grants.access_expires_at", "shopify_grants.refresh_expires_at", "connectors.entity_id", "connectors.disconnected_at"])
    .where("shopify_grants.connector_id", "=", connectorId)
    .executeTakeFirst();
}

/** Claims the refresh of `generation` under `leaseId` unless another live claim holds it; undefined when it lost. */
export function claimGrantRefresh(
  db: Database,
  { connectorId, generation, leaseId, leaseUntil, now }: { connectorId: string; generation: number; leaseId: string; leaseUntil: Date; now: Date },
): Promise<ShopifyGrantRecord | undefined> {
  return db
    .updateTable("shopify_grants")
    .set({ refresh_lease_id: leaseId, refresh_lease_until: leaseUntil })
    .where("connector_id", "=", connectorId)
    .where("generation", "=", generation)
    .where("status", "=", "active")
    .where((eb) => eb.or([eb("refresh_lease_until", "is", null), eb("refresh_lease_until", "<=", now)]))
    .returningAll()
    .executeTakeFirst();
}

/** Releases the claim `leaseId` holds, so a retry can run at once. */
export async function releaseGrantClaim(db: Database, connectorId: string, leaseId: string): Promise<void> {
  await db.updateTable("shopify_grants").set({ refresh_lease_id: null, refresh_lease_until: null }).where("connector_id", "=", connectorId).where("refresh_lease_id", "=", leaseId).execute();
}

/** Completes the refresh of `generation` only; answers whether it did. */
export async function completeGrantRefresh(trx: Database, connectorId: string, generation: number, set: Updateable<ShopifyGrantsTable>): Promise<boolean> {
  const completed = await trx.updateTable("shopify_grants").set(set).where("connector_id", "=", connectorId).where("generation", "=", generation).executeTakeFirst();
  return Number(completed.numUpdatedRows) === 1;
}

/** Connector ids of active grants of connected connectors whose access token expires by `horizon`, soonest first. */
export async function grantsDueForRefresh(db: Database, horizon: Date, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom("shopify_grants")
    .innerJoin("connectors", "connectors.id", "shopify_grants.connector_id")
    .select("shopify_grants.connector_id")
    .where("shopify_grants.status", "=", "active")
    .where("shopify_grants.access_expires_at", "<=", horizon)
    .where("connectors.disconnected_at", "is", null)
    .orderBy("shopify_grants.access_expires_at")
    .limit(limit)
    .execute();
  return rows.map((r) => r.connector_id);
}
