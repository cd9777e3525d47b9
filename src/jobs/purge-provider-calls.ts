import type { ProviderCallLog } from "../services/provider-calls.ts";
import type { Jobs } from "../queue/job-types.ts";
import type { IntegrationLogStore } from "../services/integration-logs.ts";

export const PURGE_PROVIDER_CALLS = "purge-provider-calls";

/** Recurring: removes provider-call log entries past the retention (PATCHBAY_PROVIDER_LOG_RETENTION_DAYS), one schedule across all processes. */
export function registerProviderCallPurgeJob(
  queue: Jobs,
  { callLog, integrationLogs, retentionMs, everyMs }: { callLog: Pick<ProviderCallLog, "purgeOlderThan">; integrationLogs?: Pick<IntegrationLogStore, "purgeOlderThan">; retentionMs: number; everyMs: number },
): void {
  queue.register(PURGE_PROVIDER_CALLS, {
    everyMs,
    leaseMs: 10 * 60_000,
    handler: async () => {
      await callLog.purgeOlderThan(retentionMs);
      // The shop integrations' exception logs keep the same retention.
      await integrationLogs?.purgeOlderThan(retentionMs);
    },
  });
}
