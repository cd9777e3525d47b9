import type { Kysely } from "kysely";
import type { Database } from "./index.ts";

/**
 * Deletes the rows of a table keyed by UUIDv7 whose id is below `belowId`
 * (kernel/ids.ts lowestUuidv7At: everything older than a time), `batch` rows
 * per statement so no one statement holds a long lock; the number deleted.
 * The primary key is the only index it needs. Called by a table's owner with
 * its own table (the request log, the provider-call log).
 */
export async function deleteIdsBelow(db: Database, table: string, belowId: string, batch: number): Promise<number> {
  const any = db as unknown as Kysely<Record<string, { id: string }>>;
  let total = 0;
  for (;;) {
    const ids = any.selectFrom(table).select("id").where("id", "<", belowId).orderBy("id").limit(batch);
    const gone = await any.deleteFrom(table).where("id", "in", ids).executeTakeFirst();
    const n = Number(gone.numDeletedRows);
    total += n;
    if (n < batch) return total;
  }
}
