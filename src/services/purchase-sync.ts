import { randomUUID } from "node:crypto";
import { ulid } from "ulid";
import { findRetailer } from "../catalog/retailers.ts";
import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import type { ConnectionRecord, PurchaseItem } from "../db/schema.ts";
import { backOffSync, connectionsDueForSync, lockLeasedConnection, setConnectionFields, setLeasedConnectionFields, takeSyncLease } from "./connection-store.ts";
import type { ProviderLogger } from "../providers/client.ts";
import type { GatewayPurchase, RetailerGateway, RetailerLogin } from "../providers/retailers.ts";
import { loginPlace, markUnauthenticated, type LoginVault } from "./connection-status.ts";
import { toConnection } from "./connection-view.ts";
import { emitEvent } from "./outbox.ts";
import { insertPurchases, toPurchase } from "./purchases.ts";

export type SyncOutcome =
  /** Caught up with the gateway; the next sync is due one interval from now. */
  | "synced"
  /** Another sync holds this connection's lease (or it is not active): nothing done. */
  | "skipped"
  /** The gateway refused the sealed login: the connection is now unauthenticated. */
  | "unauthenticated"
  /** The gateway did not answer usably: the next try is backed off. */
  | "backed_off"
  /** Stopped between pages (the runner is stopping, or the lease was lost); the cursor keeps what was done. */
  | "interrupted";

export interface SyncResult {
  outcome: SyncOutcome;
  created: number;
  pages: number;
}

export interface PurchaseSyncDeps {
  db: Database;
  clock: Clock;
  retailers: RetailerGateway;
  vault: LoginVault;
  /** How long after a complete sync the next one is due (PATCHBAY_PURCHASE_SYNC_MINUTES). */
  intervalMs: number;
  /** How long a sync holds a connection without committing a page before another may take over. */
  leaseMs?: number;
  pageSize?: number;
}

/** The wait after the n-th consecutive failed sync: 1 min, doubling, never more than the interval. */
export function syncBackoffMs(failures: number, intervalMs: number): number {
  return Math.min(60_000 * 2 ** Math.max(failures - 1, 0), intervalMs);
}

const SYSTEM_ACTOR = { type: "system" as const, id: "job:sync-purchases" };

/**
 * Pulls a connection's purchases from its retailer's gateway, page by page
 * from the stored cursor. Exactly one sync of a connection runs at a time,
 * across processes: a sync first takes the connection's lease (a token and an
 * expiry on the row, set by one conditional UPDATE), and every page commits
 * only while the row still holds that token and is active — so a sync that
 * lost its lease (it stalled past the expiry and another took over) writes
 * nothing more. Each page's purchases, their `purchase.created` events and the
 * new cursor commit together; a purchase already stored (same gateway id) is
 * skipped, so nothing is stored twice and a crashed sync resumes from the last
 * committed cursor.
 */
export function createPurchaseSync({ db, clock, retailers, vault, intervalMs, leaseMs = 120_000, pageSize = 50 }: PurchaseSyncDeps) {
  const leaseEnd = () => new Date(clock.now().getTime() + leaseMs);

  async function takeLease(connectionId: string, token: string): Promise<ConnectionRecord | undefined> {
    const now = clock.now();
    return takeSyncLease(db, { id: connectionId, token, until: leaseEnd(), now });
  }

  /** The row, locked, if this sync still holds it and it is still active. */
  async function fenced(trx: Database, connectionId: string, token: string): Promise<ConnectionRecord | undefined> {
    return lockLeasedConnection(trx, connectionId, token);
  }

  async function storePage(trx: Database, c: ConnectionRecord, purchases: GatewayPurchase[]): Promise<number> {
    if (purchases.length === 0) return 0;
    const now = clock.now();
    const rows = purchases.map((p) => {
      const purchasedAt = new Date(p.date);
      const items: PurchaseItem[] = p.items.map((i) => ({ item_id: ulid(purchasedAt.getTime()), price: i.price, quantity: i.quantity, product: i.product }));
      return {
        // From the purchase date (not the monotonic factory): id order is purchase-date order.
        id: ulid(purchasedAt.getTime()),
        entity_id: c.entity_id,
        connection_id: c.id,
        retailer_purchase_id: p.id,
        purchased_at: purchasedAt,
        total: p.total,
        tax: p.tax,
        subtotal: p.subtotal,
        item_count: items.length,
        items: JSON.stringify(items),
        created_at: now,
      };
    });
    const inserted = await insertPurchases(trx, rows);
    const connection = toConnection(c);
    for (const p of inserted.sort((a, b) => (a.id < b.id ? -1 : 1))) {
      await emitEvent(trx, { entityId: c.entity_id, type: "purchase.created", data: { connection, purchase: toPurchase(p) }, at: now });
    }
    return inserted.length;
  }

  return {
    /** One sync of one connection, to the end of what the gateway has (or until stopped). */
    async syncConnection(connectionId: string, { logger, signal }: { logger: ProviderLogger; signal?: AbortSignal }): Promise<SyncResult> {
      const token = randomUUID();
      const result: SyncResult = { outcome: "skipped", created: 0, pages: 0 };
      const claimed = await takeLease(connectionId, token);
      if (!claimed) return result;
      const retailer = findRetailer(claimed.retailer_id);
      const login = await vault.openSecret<RetailerLogin>(db, loginPlace(claimed));
      if (!retailer || !login) return result;
      let cursor = claimed.sync_cursor;

      for (;;) {
        if (signal?.aborted) return { ...result, outcome: "interrupted" };
        const page = await retailers.fetchPurchases(retailer, login, cursor, pageSize, logger);
        // Stopped while the page was on its way: leave it to the next sync, as a crash would.
        if (signal?.aborted) return { ...result, outcome: "interrupted" };
        if (page.outcome === "refused") {
          await db.transaction().execute(async (trx) => {
            const current = await fenced(trx, connectionId, token);
            if (current) await markUnauthenticated(trx, vault, current, SYSTEM_ACTOR, clock.now());
            await setLeasedConnectionFields(trx, connectionId, token, { sync_lease_token: null, sync_lease_until: null });
          });
          return { ...result, outcome: "unauthenticated" };
        }
        if (page.outcome !== "page") {
          const now = clock.now();
          await backOffSync(db, { id: connectionId, token, nextSyncAt: new Date(now.getTime() + syncBackoffMs(claimed.sync_failures + 1, intervalMs)) });
          return { ...result, outcome: "backed_off" };
        }
        const done = !page.hasMore || page.purchases.length === 0;
        const committed = await db.transaction().execute(async (trx) => {
          const current = await fenced(trx, connectionId, token);
          if (!current) return false;
          result.created += await storePage(trx, current, page.purchases);
          const now = clock.now();
          await setConnectionFields(
            trx,
            connectionId,
            done
              ? { sync_cursor: page.nextCursor ?? cursor, last_synced_at: now, next_sync_at: new Date(now.getTime() + intervalMs), sync_failures: 0, sync_lease_token: null, sync_lease_until: null }
              : { sync_cursor: page.nextCursor ?? cursor, sync_lease_until: leaseEnd() },
          );
          return true;
        });
        if (!committed) return { ...result, outcome: "interrupted" };
        result.pages += 1;
        cursor = page.nextCursor ?? cursor;
        if (done) return { ...result, outcome: "synced" };
      }
    },

    /** Active connections whose sync is due (never synced, or next_sync_at passed), oldest due first. */
    async dueConnections(limit: number): Promise<string[]> {
      const now = clock.now();
      return connectionsDueForSync(db, now, limit);
    },
  };
}

export type PurchaseSync = ReturnType<typeof createPurchaseSync>;
