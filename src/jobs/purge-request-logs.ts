import type { RequestLog } from "../services/request-logs.ts";
import type { Jobs } from "../queue/job-types.ts";

export const PURGE_REQUEST_LOGS = "purge-request-logs";

/** Recurring: removes request-log entries past the retention (PATCHBAY_REQUEST_LOG_RETENTION_DAYS), one schedule across all processes. */
export function registerRequestLogPurgeJob(queue: Jobs, { requestLog, retentionMs, everyMs }: { requestLog: Pick<RequestLog, "purgeOlderThan">; retentionMs: number; everyMs: number }): void {
  queue.register(PURGE_REQUEST_LOGS, {
    everyMs,
    leaseMs: 10 * 60_000,
    handler: async () => {
      await requestLog.purgeOlderThan(retentionMs);
    },
  });
}
