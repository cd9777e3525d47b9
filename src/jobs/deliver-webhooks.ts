import { DELIVER_WEBHOOK_JOB, DELIVERY_TRIES, retryDelayMs } from "../services/webhook-schedule.ts";
import { sendcloudRetryDelayMs, SENDCLOUD_TRIES } from "../services/sendcloud-webhooks.ts";
import type { WebhookDeliveryService } from "../services/webhook-deliveries.ts";
import type { Jobs } from "../queue/job-types.ts";

/**
 * One `webhook.deliver` job per delivery (queued by emitEvent in the event's
 * transaction), one try per run (WebhookDeliveryService.deliver). A failed
 * automatic try throws, so the queue runs the job again after the next wait of
 * the schedule (1 m, 5 m, 30 m, 2 h, 5 h, 8 h, 8 h); the 8th failed try marks
 * the delivery `failed`. If the worker of the last try vanished, the queue runs
 * it once more so that the delivery's outcome is still recorded.
 */
export function registerWebhookDeliveryJob(queue: Jobs, { deliveries, timeoutMs }: { deliveries: Pick<WebhookDeliveryService, "deliver">; timeoutMs: number }): void {
  queue.register(DELIVER_WEBHOOK_JOB, {
    // The queue's ceiling; each job row carries its own (emitEvent: 8, or 11 for a shop integration's).
    maxAttempts: Math.max(DELIVERY_TRIES, SENDCLOUD_TRIES),
    rerunLostFinalAttempt: true,
    // A shop integration's webhook waits on the Sendcloud spec's schedule (sendcloud-webhooks.ts).
    backoffMs: (attempt, payload) => (payload.schedule === "sendcloud" ? sendcloudRetryDelayMs(attempt) : retryDelayMs(attempt)),
    leaseMs: timeoutMs + 20_000,
    handler: async (payload, ctx) => {
      const { retry } = await deliveries.deliver(payload, { attempt: ctx.attempt, signal: ctx.signal });
      // The queue's retry is the schedule: throwing makes it due again after retryDelayMs(attempt).
      if (retry !== null) throw new Error(retry);
    },
  });
}
