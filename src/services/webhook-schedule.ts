/** The job that makes one delivery attempt (src/jobs/deliver-webhooks.ts); emitEvent queues the first. */
export const DELIVER_WEBHOOK_JOB = "webhook.deliver";

/**
 * Waits between automatic tries: 8 tries over about 23.6 h (0, 1 m, 6 m,
 * 36 m, 2 h 36 m, 7 h 36 m, 15 h 36 m, 23 h 36 m after the event).
 */
export const RETRY_DELAYS_MS = [60_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 28_800_000, 28_800_000] as const;

/** Automatic tries of one delivery; after the last failed one it is `failed`. */
export const DELIVERY_TRIES = RETRY_DELAYS_MS.length + 1;

/**
 * The job's max_attempts: one more than the tries, so that if the worker of
 * the last try dies, the queue runs the handler once more (it then records
 * the outcome) instead of failing the job without a word to the delivery.
 */
export const DELIVER_JOB_MAX_ATTEMPTS = DELIVERY_TRIES + 1;

/** The wait after automatic try number `attempt` (1-based) failed. */
export function retryDelayMs(attempt: number): number {
  return RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length) - 1]!;
}
