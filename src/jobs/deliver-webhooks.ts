import type { Clock } from "../clock.ts";
import type { Database } from "../db/index.ts";
import type { SendWebhook } from "../providers/webhook-sender.ts";
import { WEBHOOK_SECRET_PURPOSE } from "../services/credentials.ts";
import type { DeliverJobPayload, DeliveryTarget, WebhookDeliveryService } from "../services/webhook-deliveries.ts";
import { WEBHOOK_API_VERSION, type WebhookEndpointService } from "../services/webhook-endpoints.ts";
import { eventLivemode } from "../services/outbox.ts";
import { DELIVER_JOB_MAX_ATTEMPTS, DELIVER_WEBHOOK_JOB, DELIVERY_TRIES, retryDelayMs } from "../services/webhook-schedule.ts";
import type { WebhookDestinationService } from "../services/webhook-destinations.ts";
import { subtotalEventId } from "../services/webhook-destinations.ts";
import { signatureHeader, subtotalSignature } from "../services/webhook-signing.ts";
import type { Vault } from "../vault/vault.ts";
import type { JobQueue } from "./queue.ts";

export const WEBHOOK_USER_AGENT = "Patchbay-Webhooks/0.1";

export interface DeliverWebhooksDeps {
  db: Database;
  clock: Clock;
  deliveries: WebhookDeliveryService;
  endpoints: WebhookEndpointService;
  destinations: WebhookDestinationService;
  vault: Vault;
  send: SendWebhook;
  timeoutMs: number;
}

/**
 * One `webhook.deliver` job per delivery (queued by emitEvent in the event's
 * transaction), one POST per run. A failed automatic try throws, so the queue
 * runs the job again after the next wait of the schedule (1 m, 5 m, 30 m, 2 h,
 * 5 h, 8 h, 8 h); the 8th failed try marks the delivery `failed`. Every try
 * is logged on the delivery (time, status code, latency, a short error).
 */
export function registerWebhookDeliveryJob(queue: JobQueue, deps: DeliverWebhooksDeps): void {
  queue.register<DeliverJobPayload>(DELIVER_WEBHOOK_JOB, {
    maxAttempts: DELIVER_JOB_MAX_ATTEMPTS,
    backoffMs: retryDelayMs,
    leaseMs: deps.timeoutMs + 20_000,
    handler: async (payload, ctx) => {
      const target = await deps.deliveries.loadTarget(payload.delivery_id);
      // Its endpoint was deleted (with its log), or another try already got it through.
      if (!target) return;
      const manual = payload.manual === true;
      if (!manual && target.delivery.status !== "pending") return;

      const result = await attempt(deps, target, ctx.signal);
      const ok = result.error === null;
      const final = !ok && !manual && (ctx.attempt >= DELIVERY_TRIES || result.permanent);
      const retrying = !ok && !final && !manual;
      await deps.deliveries.recordAttempt(target.delivery.id, {
        attempt: {
          attempted_at: result.at.toISOString(),
          status_code: result.statusCode,
          latency_ms: result.latencyMs,
          error: result.error,
          ...(result.requestBody !== undefined ? { request_body: result.requestBody } : {}),
        },
        ok,
        final,
        manual,
        nextAttemptAt: retrying ? new Date(deps.clock.now().getTime() + retryDelayMs(ctx.attempt)) : null,
      });
      // An endpoint counts every attempt that was sent (a paused one is not): successes, failures, the auto-pause.
      if (target.endpoint && result.requestBody !== undefined) await deps.endpoints.countAttempt(target.endpoint.id, ok, result.at);
      // The queue's retry is the schedule: throwing makes it due again after retryDelayMs(attempt).
      if (retrying) throw new Error(result.error!);
    },
  });
}

interface AttemptResult {
  at: Date;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  /** No point trying again (the endpoint was disabled, the integration's webhook turned off). */
  permanent: boolean;
  /** The body as sent, for a /v1 endpoint's delivery log (absent when nothing was sent). */
  requestBody?: string;
}

async function attempt(deps: DeliverWebhooksDeps, target: DeliveryTarget, signal: AbortSignal): Promise<AttemptResult> {
  const at = deps.clock.now();
  if (target.destination) return attemptSubtotal(deps, target, target.destination, signal);
  const destination = destinationOf(target);
  if (destination === null) {
    const error = target.endpoint ? "endpoint disabled" : "the shop integration's webhook is turned off";
    return { at, statusCode: null, latencyMs: 0, error, permanent: true };
  }
  if (target.endpoint) return attemptArcus(deps, target, target.endpoint, destination, signal);
  const secrets = await connectorSecret(deps, target.connector!);
  const { event } = target;
  const body = JSON.stringify({ id: event.id, type: event.type, created_at: event.created_at.toISOString(), entity_id: event.entity_id, data: event.data });
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": WEBHOOK_USER_AGENT,
    "patchbay-event-id": event.id,
    "patchbay-event-type": event.type,
    "patchbay-delivery-id": target.delivery.id,
  };
  if (secrets.length > 0) headers["patchbay-signature"] = signatureHeader(secrets, Math.floor(at.getTime() / 1000), body);
  const result = await deps.send({ url: destination, body, headers }, signal);
  return { at, ...result, permanent: false };
}

/**
 * A /v1 webhook endpoint gets Arcus's delivery (docs.arcuserp.com
 * concepts/webhooks, guides/first-webhook): the event envelope `{id, object:
 * "event", type, created_at, api_version, entity_id, data: {object}, livemode}`
 * signed in `Arcus-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
 * (a second v1 during a rotation's overlap).
 */
async function attemptArcus(deps: DeliverWebhooksDeps, target: DeliveryTarget, endpoint: NonNullable<DeliveryTarget["endpoint"]>, url: string, signal: AbortSignal): Promise<AttemptResult> {
  const at = deps.clock.now();
  const secrets = await deps.endpoints.openSigningSecrets(endpoint, at);
  const { event } = target;
  const body = JSON.stringify({
    id: event.id,
    object: "event",
    type: event.type,
    created_at: event.created_at.toISOString(),
    api_version: endpoint.api_version ?? WEBHOOK_API_VERSION,
    entity_id: event.entity_id,
    data: { object: event.data },
    livemode: eventLivemode(event.data),
  });
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": WEBHOOK_USER_AGENT,
    "patchbay-event-id": event.id,
    "patchbay-event-type": event.type,
    "patchbay-delivery-id": target.delivery.id,
  };
  if (secrets.length > 0) headers["arcus-signature"] = signatureHeader(secrets, Math.floor(at.getTime() / 1000), body);
  const result = await deps.send({ url, body, headers }, signal);
  return { at, ...result, permanent: false, requestBody: body };
}

/**
 * A Subtotal-style destination gets Subtotal's delivery (docs.subtotal.com
 * webhooks/events, webhooks/verifying-signatures): the body `{type, id,
 * payload}` — `payload.connection` for connection events, `payload.connection`
 * and `payload.purchase` for purchase.created — signed in X-Subtotal-Signature
 * over `<X-Subtotal-Timestamp>.<body>`.
 */
async function attemptSubtotal(deps: DeliverWebhooksDeps, target: DeliveryTarget, destination: NonNullable<DeliveryTarget["destination"]>, signal: AbortSignal): Promise<AttemptResult> {
  const at = deps.clock.now();
  const { event } = target;
  const payload = event.type.startsWith("connection.") ? { connection: event.data } : event.data;
  const body = JSON.stringify({ type: event.type, id: subtotalEventId(event.id), payload });
  const timestamp = Math.floor(at.getTime() / 1000);
  const headers: Record<string, string> = { "content-type": "application/json", "user-agent": WEBHOOK_USER_AGENT };
  const secret = await deps.destinations.openSigningSecret(destination);
  if (secret !== null) {
    headers["x-subtotal-timestamp"] = String(timestamp);
    headers["x-subtotal-signature"] = subtotalSignature(secret, timestamp, body);
  }
  const result = await deps.send({ url: destination.url, body, headers }, signal);
  return { at, ...result, permanent: false };
}

function destinationOf({ endpoint, connector }: DeliveryTarget): string | null {
  if (endpoint) return endpoint.enabled ? endpoint.url : null;
  if (!connector || !connector.webhook_active || connector.webhook_url === null || connector.disconnected_at !== null) return null;
  return connector.webhook_url;
}

/** A shop integration's deliveries are signed with the connector's webhook secret (PUT …/webhook-secret), if it has one. */
async function connectorSecret({ db, vault }: DeliverWebhooksDeps, connector: NonNullable<DeliveryTarget["connector"]>): Promise<string[]> {
  if (connector.webhook_secret_id === null) return [];
  const secret = await vault.openSecret<string>(db, { entityId: connector.entity_id, ownerId: connector.id, purpose: WEBHOOK_SECRET_PURPOSE });
  return secret === null ? [] : [secret];
}
