import type { JobName } from "../queue/job-types.ts";

/** The job that makes one delivery attempt (WebhookDeliveryService.deliver, run by src/jobs/deliver-webhooks.ts); emitEvent queues the first. */
export const DELIVER_WEBHOOK_JOB = "webhook.deliver" satisfies JobName;

/**
 * Waits between automatic tries: 8 tries over about 23.6 h (0, 1 m, 6 m,
 * 36 m, 2 h 36 m, 7 h 36 m, 15 h 36 m, 23 h 36 m after the event).
 */
export const RETRY_DELAYS_MS = [60_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 28_800_000, 28_800_000] as const;

/** Automatic tries of one delivery; after the last failed one it is `failed`. */
export const DELIVERY_TRIES = RETRY_DELAYS_MS.length + 1;

/** The wait after automatic try number `attempt` (1-based) failed. */
export function retryDelayMs(attempt: number): number {
  return RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length) - 1]!;
}
