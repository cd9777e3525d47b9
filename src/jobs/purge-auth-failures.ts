import { sql } from "kysely";
import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import type { Jobs } from "../queue/job-types.ts";

export const PURGE_AUTH_FAILURES = "purge-auth-failures";

/**
 * Recurring: forgets client addresses with no failed authentication in the
 * current or the previous minute (their count has faded to nothing), so many
 * addresses failing once do not grow `auth_failures` for ever.
 */
export function registerAuthFailurePurgeJob(queue: Jobs, { db, clock, everyMs }: { db: Database; clock: Clock; everyMs: number }): void {
  queue.register(PURGE_AUTH_FAILURES, {
    everyMs,
    leaseMs: 10 * 60_000,
    handler: async () => {
      await purgeStaleAuthFailures(db, clock.now());
    },
  });
}

export async function purgeStaleAuthFailures(db: Database, now: Date): Promise<number> {
  const minute = Math.floor(now.getTime() / 60_000);
  const result = await sql`delete from auth_failures where minute_index < ${String(minute - 1)}::bigint`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
