import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import { purgeExpiredIdempotencyKeys } from "../idempotency/purge.ts";
import type { Jobs } from "../queue/job-types.ts";

export const PURGE_IDEMPOTENCY_KEYS = "purge-idempotency-keys";

/** Recurring: removes idempotency records past their 24 h, in batches, one schedule across all processes. */
export function registerIdempotencyPurgeJob(queue: Jobs, { db, clock, everyMs }: { db: Database; clock: Clock; everyMs: number }): void {
  queue.register(PURGE_IDEMPOTENCY_KEYS, {
    everyMs,
    leaseMs: 10 * 60_000,
    handler: async () => {
      await purgeExpiredIdempotencyKeys(db, clock.now());
    },
  });
}
