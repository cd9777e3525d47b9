import type { ConnectorService } from "../services/connectors.ts";
import type { Jobs } from "../queue/job-types.ts";

export const PURGE_EXPIRED_CONNECTORS = "purge-expired-connectors";

const BATCH = 100;

/**
 * Recurring: connectors disconnected longer than the recovery window are
 * deleted and every secret they own destroyed (blob and wrapped data key).
 * One schedule across all processes; batches use SKIP LOCKED.
 */
export function registerPurgeJob(queue: Jobs, { connectors, everyMs }: { connectors: Pick<ConnectorService, "purgeExpiredConnectors">; everyMs: number }): void {
  queue.register(PURGE_EXPIRED_CONNECTORS, {
    everyMs,
    leaseMs: 10 * 60_000,
    handler: async (_payload, { signal }) => {
      while (!signal.aborted && (await connectors.purgeExpiredConnectors(BATCH)) === BATCH);
    },
  });
}
