import type { Database } from "../db/index.ts";
import { deleteExpiredKeys } from "./store.ts";

/**
 * Deletes the idempotency records whose 24 hours are over, in batches so a
 * large backlog never holds many row locks at once (idempotency_keys_expires_idx).
 * For the job queue; answers how many it removed.
 */
export async function purgeExpiredIdempotencyKeys(db: Database, now: Date, batchSize = 1000): Promise<number> {
  let removed = 0;
  for (;;) {
    const n = await deleteExpiredKeys(db, now, batchSize);
    removed += n;
    if (n < batchSize) return removed;
  }
}
