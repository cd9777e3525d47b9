import { sql } from "kysely";
import type { Database } from "../db/index.ts";

/**
 * Deletes the idempotency records whose 24 hours are over, in batches so a
 * large backlog never holds many row locks at once (idempotency_keys_expires_idx).
 * For the job queue; answers how many it removed.
 */
export async function purgeExpiredIdempotencyKeys(db: Database, now: Date, batchSize = 1000): Promise<number> {
  let removed = 0;
  for (;;) {
    const result = await sql`
      delete from idempotency_keys
       where ctid = any (array(select ctid from idempotency_keys where expires_at <= ${now} limit ${batchSize}))`.execute(db);
    const n = Number(result.numAffectedRows ?? 0n);
    removed += n;
    if (n < batchSize) return removed;
  }
}
