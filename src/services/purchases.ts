import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import type { Insertable } from "kysely";
import type { PurchaseItem, PurchaseRecord, PurchasesTable } from "../db/schema.ts";
import type { ConnectionGrant } from "./connections.ts";
import { NotFoundError } from "../kernel/errors.ts";

/** GET /purchases/{purchase_id} (Subtotal's Get Purchase): every field always present; amounts are decimal strings. */
export interface Purchase {
  purchase_id: string;
  date: string;
  total: string;
  tax: string;
  subtotal: string;
  item_count: number;
  items: PurchaseItem[];
}

/** One entry of GET /purchases (Subtotal's Get Purchases: PurchaseSummary). */
export interface PurchaseSummary {
  purchase_id: string;
  date: string;
  total: string;
}

/** RFC 3339 UTC, without the fraction when it is zero, as the reference writes dates ("2024-01-01T00:00:00Z"). */
export function purchaseDate(d: Date): string {
  return d.toISOString().replace(".000Z", "Z");
}

export function toPurchase(p: PurchaseRecord): Purchase {
  return { purchase_id: p.id, date: purchaseDate(p.purchased_at), total: p.total, tax: p.tax, subtotal: p.subtotal, item_count: p.item_count, items: p.items };
}

export function toPurchaseSummary(p: Pick<PurchaseRecord, "id" | "purchased_at" | "total">): PurchaseSummary {
  return { purchase_id: p.id, date: purchaseDate(p.purchased_at), total: p.total };
}

export const PURCHASE_LIST_LIMITS = { default: 10, max: 50 } as const;

export interface PurchaseServiceDeps {
  db: Database;
  clock: Clock;
  /** Days a disconnected connection's purchases stay readable before the purge deletes them. */
  recoveryWindowDays: number;
}

/** Stores a page of purchases; one already stored (same connection and retailer purchase id) is skipped. Answers the new rows. */
export function insertPurchases(trx: Database, rows: Insertable<PurchasesTable>[]): Promise<PurchaseRecord[]> {
  return trx
    .insertInto("purchases")
    .values(rows)
    .onConflict((oc) => oc.columns(["connection_id", "retailer_purchase_id"]).doNothing())
    .returningAll()
    .execute();
}

/** Reading a connection's purchases; the sync (purchase-sync.ts) is what writes them. */
export function createPurchaseService({ db, clock, recoveryWindowDays }: PurchaseServiceDeps) {
  return {
    /** GET /purchases: the token's connection's purchases, newest first; `startingAfter` continues after that purchase. */
    async listPurchases(grant: ConnectionGrant, opts: { limit: number; startingAfter?: string }): Promise<{ purchases: PurchaseSummary[]; has_more: boolean }> {
      const rows = await db
        .selectFrom("purchases")
        .select(["id", "purchased_at", "total"])
        .where("connection_id", "=", grant.connectionId)
        .where("entity_id", "=", grant.entityId)
        .$if(opts.startingAfter !== undefined, (qb) => qb.where("id", "<", opts.startingAfter!))
        .orderBy("id", "desc")
        .limit(opts.limit + 1)
        .execute();
      return { purchases: rows.slice(0, opts.limit).map(toPurchaseSummary), has_more: rows.length > opts.limit };
    },

    async getPurchase(grant: ConnectionGrant, purchaseId: string): Promise<Purchase> {
      const row = await db
        .selectFrom("purchases")
        .selectAll()
        .where("id", "=", purchaseId)
        .where("connection_id", "=", grant.connectionId)
        .where("entity_id", "=", grant.entityId)
        .executeTakeFirst();
      if (!row) throw new NotFoundError("purchase_not_found", `No purchase with id ${purchaseId} for this connection.`, "GET /purchases lists the connection's purchases.");
      return toPurchase(row);
    },

    /** The purge: purchases of connections disconnected longer than the recovery window. Returns how many went. */
    async purgeDisconnectedPurchases(limit = 1000): Promise<number> {
      const cutoff = new Date(clock.now().getTime() - recoveryWindowDays * 86_400_000);
      const gone = await db
        .deleteFrom("purchases")
        .where("id", "in", (eb) =>
          eb
            .selectFrom("purchases as p")
            .innerJoin("connections as c", "c.id", "p.connection_id")
            .select("p.id")
            .where("c.status", "=", "disconnected")
            .where("c.disconnected_at", "<=", cutoff)
            .limit(limit),
        )
        .executeTakeFirst();
      return Number(gone.numDeletedRows);
    },
  };
}

export type PurchaseService = ReturnType<typeof createPurchaseService>;
