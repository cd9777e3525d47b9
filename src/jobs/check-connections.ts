import type { ConnectionLinking } from "../services/connection-linking.ts";
import type { Jobs } from "../queue/job-types.ts";

export const CHECK_CONNECTIONS_JOB = "check-connections";

/** How often the job looks for due connections; each connection is re-checked once per PATCHBAY_CONNECTION_CHECK_HOURS. */
const EVERY_MS = 15 * 60_000;
const BATCH = 25;

const quiet = { info() {}, warn() {} };

/**
 * The periodic re-check of active connections (SPEC §4): asks each retailer
 * whether the sealed login still works, and marks rejected ones
 * unauthenticated. Batches are claimed with SKIP LOCKED and stamped as
 * checked, so several processes share the work and none checks a connection
 * twice in one interval; the job stops between batches when its lease ends.
 */
export function registerCheckConnectionsJob(jobs: Jobs, { linking }: { linking: ConnectionLinking }): void {
  jobs.register(CHECK_CONNECTIONS_JOB, {
    everyMs: EVERY_MS,
    leaseMs: 10 * 60_000,
    handler: async (_payload, ctx) => {
      // The job context carries no logger, so provider calls made here are not logged line by line.
      while (!ctx.signal.aborted) {
        const summary = await linking.recheckDueConnections({ limit: BATCH, logger: quiet });
        if (summary.claimed < BATCH) break;
      }
    },
  });
}
