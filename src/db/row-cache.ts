import { performance } from "node:perf_hooks";
import { changeFeedOf, type Change, type WatchedTable } from "./change-feed.ts";
import { inRequestTransaction } from "./request-transaction.ts";

/**
 * Rows kept in memory by a hot path for at most `ttlMs` (real time), and
 * forgotten sooner when the change feed announces a change that `affects`
 * them (src/db/change-feed.ts: this process's writes at once, other
 * processes' at their commit). A row read while any change was announced is
 * not kept (it may predate a write that committed meanwhile), nor one read
 * inside a request transaction (it may be a write not yet committed).
 * "Any change" is any change of `tables`, the tables the rows come from.
 * `ttlMs` 0: nothing is kept.
 */
export function createRowCache<V>({
  db,
  ttlMs,
  capacity = 10_000,
  tables,
  affects,
}: {
  db: object;
  ttlMs: number;
  capacity?: number;
  tables: readonly WatchedTable[];
  affects: (change: Change, value: V) => boolean;
}) {
  const feed = changeFeedOf(db);
  const epoch = () => tables.reduce((sum, table) => sum + feed.epochOf(table), 0);
  const entries = new Map<string, { value: V; readAt: number }>();
  const unsubscribe =
    ttlMs > 0
      ? feed.subscribe((change) => {
          for (const [key, entry] of entries) if (affects(change, entry.value)) entries.delete(key);
        })
      : () => {};
  return {
    /** The kept row of `key`, else `read()` (an undefined answer is not kept). */
    async get(key: string, read: () => Promise<V | undefined>): Promise<V | undefined> {
      const hit = entries.get(key);
      if (hit) {
        if (performance.now() - hit.readAt < ttlMs) return hit.value;
        entries.delete(key);
      }
      const before = epoch();
      const readAt = performance.now();
      const value = await read();
      if (value !== undefined && ttlMs > 0 && epoch() === before && !inRequestTransaction()) {
        if (entries.size >= capacity) entries.delete(entries.keys().next().value!);
        entries.set(key, { value, readAt });
      }
      return value;
    },
    close(): void {
      unsubscribe();
      entries.clear();
    },
  };
}
