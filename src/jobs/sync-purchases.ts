
import type { PurchaseSync } from "../services/purchase-sync.ts";
import type { PurchaseService } from "../services/purchases.ts";
import type { Jobs } from "../queue/job-types.ts";
import type { Database } from "../db/index.ts";

export const SYNC_PURCHASES_JOB = "purchases.sync";
export const SCHEDULE_PURCHASE_SYNCS_JOB = "purchases.schedule";
export const PURGE_PURCHASES_JOB = "purchases.purge";

const SCHEDULE_BATCH = 200;
const quiet = { info() {}, warn() {} };

/** Queues one sync of the connection (in the caller's transaction when given); a no-op while one is queued or running. */
export function queuePurchaseSync(jobs: Jobs, executor: Database, connectionId: string): Promise<string | null> {
  return jobs.enqueue(executor, SYNC_PURCHASES_JOB, { connection_id: connectionId }, { singletonKey: `${SYNC_PURCHASES_JOB}:${connectionId}` });
}

/**
 * The purchase sync on the job queue. One `purchases.sync` job per connection
 * (a singleton key: at most one queued or running), queued right after the
 * connection becomes active and by `purchases.schedule` (recurring, one row for
 * all processes) whenever a connection's sync is due; any process may run it,
 * and the connection's own lease (purchase-sync.ts) keeps two from syncing it
 * at once even past a queue lease. `purchases.purge` deletes the purchases of
 * connections disconnected longer than the recovery window.
 */
export function registerPurchaseSyncJobs(
  jobs: Jobs,
  { db, sync, purchases, scheduleEveryMs, purgeEveryMs }: { db: Database; sync: PurchaseSync; purchases: PurchaseService; scheduleEveryMs: number; purgeEveryMs: number },
): void {
  jobs.register(SYNC_PURCHASES_JOB, {
    maxAttempts: 3,
    leaseMs: 10 * 60_000,
    handler: async ({ connection_id }, ctx) => {
      // The job context carries no logger, so provider calls made here are not logged line by line.
      await sync.syncConnection(connection_id, { logger: quiet, signal: ctx.signal });
    },
  });
  jobs.register(SCHEDULE_PURCHASE_SYNCS_JOB, {
    everyMs: scheduleEveryMs,
    handler: async () => {
      for (const id of await sync.dueConnections(SCHEDULE_BATCH)) await queuePurchaseSync(jobs, db, id);
    },
  });
  jobs.register(PURGE_PURCHASES_JOB, {
    everyMs: purgeEveryMs,
    handler: async (_payload, ctx) => {
      while (!ctx.signal.aborted && (await purchases.purgeDisconnectedPurchases()) > 0);
    },
  });
}
