import type { Database } from "../db/index.ts";
import { REFRESH_LEASE_MS, type ShopifyGrants } from "../services/shopify-grants.ts";
import type { ShopifyOAuthService } from "../services/shopify-oauth.ts";
import type { Jobs } from "../queue/job-types.ts";

export const REFRESH_DUE_TOKENS = "shopify-refresh-due-tokens";
export const REFRESH_TOKEN = "shopify-refresh-token";

const BATCH = 500;

/**
 * Shopify's expiring offline tokens live one hour. Every minute one process
 * (the recurring job has one row) queues a refresh for each grant expiring
 * within REFRESH_AHEAD_MS; each refresh is its own job, retried with backoff
 * while Shopify is unreachable. The "once per refresh token" guarantee is
 * the grant's claim in the database, not the queue: a refresh started by a
 * verify, or a job whose lease ran out, cannot spend the token twice.
 */
export function registerTokenRefreshJobs(
  queue: Jobs,
  { db, grants, oauth, everyMs = 60_000 }: { db: Database; grants: Pick<ShopifyGrants, "dueForRefresh" | "refreshGrant">; oauth: Pick<ShopifyOAuthService, "purgeExpiredStates">; everyMs?: number },
): void {
  queue.register(REFRESH_TOKEN, {
    maxAttempts: 6,
    leaseMs: REFRESH_LEASE_MS,
    handler: async ({ connectorId }) => {
      const result = await grants.refreshGrant(connectorId);
      // Unreachable: fail the attempt so the queue retries it; a refusal is recorded on the connector, not retried.
      if (result.outcome === "unreachable") throw new Error(result.error);
    },
  });

  queue.register(REFRESH_DUE_TOKENS, {
    everyMs,
    leaseMs: 5 * 60_000,
    handler: async () => {
      for (const connectorId of await grants.dueForRefresh(BATCH)) {
        await queue.enqueue(db, REFRESH_TOKEN, { connectorId }, { singletonKey: `${REFRESH_TOKEN}:${connectorId}` });
      }
      await oauth.purgeExpiredStates();
    },
  });
}
