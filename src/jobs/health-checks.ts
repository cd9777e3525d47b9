import type { Database } from "../db/index.ts";

import type { ConnectorHealth } from "../services/connector-health.ts";
import type { Jobs } from "../queue/job-types.ts";

export const HEALTH_CHECKS_DUE = "connector-health-checks";
export const HEALTH_CHECK = "connector-health-check";

const BATCH = 200;

/** Queues one connector's check, in the caller's transaction (after new credentials are stored, say). */
export function queueHealthCheck(queue: Jobs, executor: Database, connectorId: string): Promise<string | null> {
  return queue.enqueue(executor, HEALTH_CHECK, { connectorId }, { singletonKey: `${HEALTH_CHECK}:${connectorId}` });
}

/**
 * Periodically re-verifies every active connector's credentials (the same
 * read-only call as POST …/verify) once its last check is older than
 * PATCHBAY_HEALTH_CHECK_MINUTES. One check per connector per job; the
 * outcome (ok, auth_failed, unreachable) is recorded on the row, so a
 * failing provider is not an error for the queue.
 */
export function registerHealthCheckJobs(
  queue: Jobs,
  { db, health, everyMs = 5 * 60_000 }: { db: Database; health: Pick<ConnectorHealth, "dueForCheck" | "checkConnector">; everyMs?: number },
): void {
  queue.register(HEALTH_CHECK, {
    maxAttempts: 3,
    handler: async ({ connectorId }) => {
      await health.checkConnector(connectorId);
    },
  });

  queue.register(HEALTH_CHECKS_DUE, {
    everyMs,
    leaseMs: 5 * 60_000,
    handler: async () => {
      for (const connectorId of await health.dueForCheck(BATCH)) await queueHealthCheck(queue, db, connectorId);
    },
  });
}
