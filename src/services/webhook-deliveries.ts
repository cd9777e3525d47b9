import { keysetPage, type Page, type PageOptions } from "./pagination.ts";
import { sql } from "kysely";
import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import { selectConnectorById } from "./connector-store.ts";
import type { ConnectorRecord, WebhookDeliveryAttempt, WebhookDeliveryRecord, WebhookDestinationRecord, WebhookEndpointRecord } from "../db/schema.ts";
import type { JobPayloads, Jobs } from "../queue/job-types.ts";
import type { SendWebhook } from "../providers/webhook-sender.ts";
import type { ApiKeyActor } from "../auth/actor.ts";
import { auditActorOf } from "./audit.ts";
import { recordChange } from "./record-change.ts";
import { ConflictError, NotFoundError } from "../kernel/errors.ts";
import { isUuid } from "../kernel/ids.ts";
import { selectEndpointById, WEBHOOK_API_VERSION, type ListOptions, type WebhookEndpointService } from "./webhook-endpoints.ts";
import { eventLivemode } from "./outbox.ts";
import { DELIVER_WEBHOOK_JOB, DELIVERY_TRIES, retryDelayMs } from "./webhook-schedule.ts";
import { selectDestinationById, subtotalEventId, type WebhookDestinationService } from "./webhook-destinations.ts";
import { signatureHeader, subtotalSignature } from "./webhook-signing.ts";
import { SENDCLOUD_TRIES, sendcloudActionOf, sendcloudRetryDelayMs, sendcloudSignature, sendcloudWebhookBody } from "./sendcloud-webhooks.ts";
import type { IntegrationLogStore } from "./integration-logs.ts";

/** The one shape in which a delivery leaves the service: its log, never the payload or the receiver's answer. */
export interface WebhookDelivery {
  object: "webhook_delivery";
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  status: "pending" | "succeeded" | "failed";
  attempts: WebhookDeliveryAttempt[];
  next_attempt_at: string | null;
  created_at: string;
  updated_at: string;
}

type DeliveryWithType = WebhookDeliveryRecord & { event_type: string };

export function toWebhookDelivery(d: DeliveryWithType): WebhookDelivery {
  return {
    object: "webhook_delivery",
    id: d.id,
    endpoint_id: d.endpoint_id!,
    event_id: d.event_id,
    event_type: d.event_type,
    status: d.status,
    attempts: d.attempts,
    next_attempt_at: d.next_attempt_at?.toISOString() ?? null,
    created_at: d.created_at.toISOString(),
    updated_at: d.updated_at.toISOString(),
  };
}

/** The payload of a `webhook.deliver` job. `manual`: one extra try asked for through the API. */
export type DeliverJobPayload = JobPayloads["webhook.deliver"];

export const WEBHOOK_USER_AGENT = "Patchbay-Webhooks/0.1";

/** What one attempt needs: the delivery, its event and where it goes. */
export interface DeliveryTarget {
  delivery: WebhookDeliveryRecord;
  event: { id: string; type: string; entity_id: string; data: unknown; created_at: Date };
  endpoint: WebhookEndpointRecord | null;
  connector: ConnectorRecord | null;
  /** A Subtotal-style destination (/webhooks): Subtotal's body and signature. */
  destination: WebhookDestinationRecord | null;
}

export interface AttemptOutcome {
  attempt: WebhookDeliveryAttempt;
  ok: boolean;
  /** A failure that ends the automatic tries: the delivery becomes `failed`. */
  final: boolean;
  /** When the next automatic try is due (null: none). Ignored for manual tries, which leave the schedule alone. */
  nextAttemptAt: Date | null;
  manual: boolean;
}

export interface WebhookDeliveryServiceDeps {
  db: Database;
  clock: Clock;
  jobs: Jobs;
  endpoints: WebhookEndpointService;
  destinations: WebhookDestinationService;
  /** A shop integration's webhook that failed for good is written to its exception log. */
  integrationLogs?: Pick<IntegrationLogStore, "insertMany">;
  /** A shop integration's deliveries are signed with its connector's webhook secret. */
  openWebhookSecret(connector: Pick<ConnectorRecord, "id" | "entity_id">): Promise<string | null>;
  send: SendWebhook;
}

export function createWebhookDeliveryService(deps: WebhookDeliveryServiceDeps) {
  const { db, clock, jobs, endpoints } = deps;
  const withType = () =>
    db.selectFrom("webhook_deliveries as d").innerJoin("events as e", "e.id", "d.event_id").selectAll("d").select("e.type as event_type");

  return {
    /** GET /v1/webhook_endpoints/{id}/deliveries: the endpoint's deliveries, newest event first. */
    async listDeliveries(actor: ApiKeyActor, endpointId: string, opts: ListOptions): Promise<Page<WebhookDelivery>> {
      const endpoint = await endpoints.findOwned(actor, endpointId);
      return keysetPage(withType().where("d.endpoint_id", "=", endpoint.id), "d.id", opts, toWebhookDelivery);
    },

    /**
     * POST …/deliveries/{id}/retry: one more try, now, whatever the status.
     * A pending delivery keeps its schedule; the outcome of this try is logged
     * like any other, and a success ends the delivery.
     */
    async retryDelivery(actor: ApiKeyActor, endpointId: string, deliveryId: string): Promise<WebhookDelivery> {
      const endpoint = await endpoints.findOwned(actor, endpointId);
      const row = isUuid(deliveryId) ? await withType().where("d.id", "=", deliveryId).where("d.endpoint_id", "=", endpoint.id).executeTakeFirst() : undefined;
      if (!row) throw new NotFoundError("webhook_delivery_not_found", "No such delivery for this endpoint.", { to: "list_webhook_deliveries" });
      if (!endpoint.enabled) throw new ConflictError("endpoint_disabled", `This endpoint is ${endpoint.status}: nothing is sent to it.`, 'Set it active with PATCH {"status": "active"} first.');
      await db.transaction().execute(async (trx) => {
        await jobs.enqueue(trx, DELIVER_WEBHOOK_JOB, { delivery_id: row.id, manual: true }, { maxAttempts: 1 });
        await recordChange(trx, {
          entityId: endpoint.entity_id,
          actor: auditActorOf(actor),
          action: "webhook_delivery.retried",
          target: { type: "webhook_delivery", id: row.id },
          changes: {},
          at: clock.now(),
        });
      });
      return toWebhookDelivery(row);
    },

    /**
     * One try of a delivery (the `webhook.deliver` job's run number `attempt`):
     * one POST, logged on the delivery (time, status code, latency, a short
     * error). `retry` is the error to retry on, null when nothing is to follow
     * (a success, a manual try, the last automatic try, a target turned off).
     */
    async deliver(payload: DeliverJobPayload, { attempt: run, signal }: { attempt: number; signal: AbortSignal }): Promise<{ retry: string | null }> {
      const target = await this.loadTarget(payload.delivery_id);
      // Its endpoint was deleted (with its log), or another try already got it through.
      if (!target) return { retry: null };
      const manual = payload.manual === true;
      if (!manual && target.delivery.status !== "pending") return { retry: null };

      const result = await attempt(deps, target, signal);
      const ok = result.error === null;
      // A shop integration's webhook follows the Sendcloud spec's schedule (sendcloud-webhooks.ts).
      const sendcloud = target.connector !== null && target.endpoint === null && target.destination === null;
      const final = !ok && !manual && (run >= (sendcloud ? SENDCLOUD_TRIES : DELIVERY_TRIES) || result.permanent);
      const retrying = !ok && !final && !manual;
      await this.recordAttempt(target.delivery.id, {
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
        nextAttemptAt: retrying ? new Date(clock.now().getTime() + (sendcloud ? sendcloudRetryDelayMs(run) : retryDelayMs(run))) : null,
      });
      // "If after 10 tries the call is still failing, Sendcloud will stop trying, and report the issue to your Failed Request logs."
      if (sendcloud && final && result.requestBody !== undefined) await reportFailedWebhook(deps, target, result);
      // An endpoint counts every attempt that was sent (a paused one is not): successes, failures, the auto-pause.
      if (target.endpoint && result.requestBody !== undefined) await endpoints.countAttempt(target.endpoint.id, ok, result.at);
      return { retry: retrying ? result.error! : null };
    },

    /** The delivery with its event and target, for the job; null when it is gone (its endpoint or destination was deleted). */
    async loadTarget(deliveryId: string): Promise<DeliveryTarget | null> {
      const row = await db
        .selectFrom("webhook_deliveries as d")
        .innerJoin("events as e", "e.id", "d.event_id")
        .selectAll("d")
        .select(["e.type as event_type", "e.entity_id as event_entity_id", "e.data as event_data", "e.created_at as event_created_at"])
        .where("d.id", "=", deliveryId)
        .executeTakeFirst();
      if (!row) return null;
      const { event_type, event_entity_id, event_data, event_created_at, ...delivery } = row;
      const event = { id: delivery.event_id, type: event_type, entity_id: event_entity_id, data: event_data, created_at: event_created_at };
      const endpoint = delivery.endpoint_id ? ((await selectEndpointById(db, delivery.endpoint_id)) ?? null) : null;
      const connector = delivery.connector_id ? ((await selectConnectorById(db, delivery.connector_id)) ?? null) : null;
      const destination = delivery.destination_id
        ? ((await selectDestinationById(db, delivery.destination_id)) ?? null)
        : null;
      if (!endpoint && !connector && !destination) return null;
      return { delivery, event, endpoint, connector, destination };
    },

    /**
     * Appends the attempt to the delivery's log and moves its status:
     * a success makes it `succeeded` (for good: a later failed redelivery is
     * logged but does not undo it); the last automatic failure makes it `failed`.
     */
    async recordAttempt(deliveryId: string, outcome: AttemptOutcome): Promise<void> {
      const status = outcome.ok ? "succeeded" : outcome.final ? "failed" : null;
      await db
        .updateTable("webhook_deliveries")
        .set({
          attempts: sql`attempts || ${JSON.stringify([outcome.attempt])}::jsonb`,
          attempt_count: sql`attempt_count + 1`,
          status: sql`case when status = 'succeeded' then 'succeeded' else coalesce(${status}::text, status) end`,
          next_attempt_at: outcome.ok ? null : outcome.manual ? sql`next_attempt_at` : outcome.nextAttemptAt,
          updated_at: clock.now(),
        })
        .where("id", "=", deliveryId)
        .execute();
    },
  };
}

export type WebhookDeliveryService = ReturnType<typeof createWebhookDeliveryService>;

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

async function attempt(deps: WebhookDeliveryServiceDeps, target: DeliveryTarget, signal: AbortSignal): Promise<AttemptResult> {
  const at = deps.clock.now();
  if (target.destination) return attemptSubtotal(deps, target, target.destination, signal);
  const destination = destinationOf(target);
  if (destination === null) {
    const error = target.endpoint ? "endpoint disabled" : "the shop integration's webhook is turned off";
    return { at, statusCode: null, latencyMs: 0, error, permanent: true };
  }
  if (target.endpoint) return attemptArcus(deps, target, target.endpoint, destination, signal);
  return attemptSendcloud(deps, target, target.connector!, destination, signal);
}

/**
 * A shop integration's webhook gets Sendcloud's delivery (the v3 webhooks
 * spec): the body `{action, timestamp, integration}` — the integration as it
 * is when the delivery is sent, in the spec's field names — signed in
 * `Sendcloud-Signature: <hex HMAC-SHA256(key, raw body)>`, the key being the
 * integration's webhook signature key (the connector's webhook secret,
 * PUT /v1/integrations/{type}/webhook-secret); unsigned without one.
 */
async function attemptSendcloud(deps: WebhookDeliveryServiceDeps, target: DeliveryTarget, connector: ConnectorRecord, url: string, signal: AbortSignal): Promise<AttemptResult> {
  const at = deps.clock.now();
  const { event } = target;
  const action = sendcloudActionOf(event.type);
  if (action === null) return { at, statusCode: null, latencyMs: 0, error: `${event.type} has no Sendcloud webhook action`, permanent: true };
  const body = sendcloudWebhookBody(action, event.created_at, connector);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": WEBHOOK_USER_AGENT,
    "patchbay-event-id": event.id,
    "patchbay-delivery-id": target.delivery.id,
  };
  const [key] = await connectorSecret(deps, connector);
  if (key !== undefined) headers["sendcloud-signature"] = sendcloudSignature(key, body);
  const result = await deps.send({ url, body, headers }, signal);
  return { at, ...result, permanent: false, requestBody: body };
}

/** A shop integration's webhook that failed for good becomes an entry of its exception log (source `webhook`). */
async function reportFailedWebhook(deps: WebhookDeliveryServiceDeps, target: DeliveryTarget, result: AttemptResult): Promise<void> {
  const connector = target.connector!;
  const url = connector.webhook_url ?? "";
  let base = url;
  try {
    base = new URL(url).origin;
  } catch {
    // Kept as stored.
  }
  await deps.integrationLogs?.insertMany([
    {
      entity_id: connector.entity_id,
      connector_id: connector.id,
      source: "webhook",
      base_url: base || "-",
      full_url: url || null,
      method: "POST",
      response_code: result.statusCode,
      response: null,
      request: JSON.stringify({ headers: { "content-type": "application/json", "sendcloud-signature": "[redacted]" }, payload: JSON.parse(result.requestBody!) }),
      exception_type: "patchbay.webhook.failed",
      exception: `The webhook failed ${SENDCLOUD_TRIES} times and will not be retried: ${result.error}`,
      additional_data: JSON.stringify({ event_id: target.event.id, delivery_id: target.delivery.id }),
      protected: true,
      created_at: result.at,
    },
  ]);
}

/**
 * A /v1 webhook endpoint gets Arcus's delivery (docs.arcuserp.com
 * concepts/webhooks, guides/first-webhook): the event envelope `{id, object:
 * "event", type, created_at, api_version, entity_id, data: {object}, livemode}`
 * signed in `Arcus-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
 * (a second v1 during a rotation's overlap).
 */
async function attemptArcus(deps: WebhookDeliveryServiceDeps, target: DeliveryTarget, endpoint: NonNullable<DeliveryTarget["endpoint"]>, url: string, signal: AbortSignal): Promise<AttemptResult> {
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
async function attemptSubtotal(deps: WebhookDeliveryServiceDeps, target: DeliveryTarget, destination: NonNullable<DeliveryTarget["destination"]>, signal: AbortSignal): Promise<AttemptResult> {
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

function destinationOf({ endpoint, connector, event }: DeliveryTarget): string | null {
  if (endpoint) return endpoint.enabled ? endpoint.url : null;
  if (!connector || !connector.webhook_active || connector.webhook_url === null) return null;
  // integration_deleted goes to the integration that was just disconnected; nothing else does.
  if (connector.disconnected_at !== null && event.type !== "connector.disconnected") return null;
  return connector.webhook_url;
}

/** A shop integration's deliveries are signed with the connector's webhook secret (PUT …/webhook-secret), if it has one: its Sendcloud "Webhook Signature Key". */
async function connectorSecret({ openWebhookSecret }: WebhookDeliveryServiceDeps, connector: NonNullable<DeliveryTarget["connector"]>): Promise<string[]> {
  if (connector.webhook_secret_id === null) return [];
  const secret = await openWebhookSecret(connector);
  return secret === null ? [] : [secret];
}
