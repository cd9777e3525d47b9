import { sql } from "kysely";
import { executeDeferrable } from "../db/deferred.ts";
import { uuidv7 } from "../kernel/ids.ts";
import { insertJobsFrom } from "../queue/job-types.ts";
import { DELIVER_WEBHOOK_JOB, DELIVERY_TRIES } from "./webhook-schedule.ts";
import type { Database } from "../db/index.ts";
import { SENDCLOUD_TRIES, SHOP_WEBHOOK_EVENT_TYPES } from "./sendcloud-webhooks.ts";

/** Every event type Patchbay emits; webhook endpoints subscribe to these (or "*"). */
export const EVENT_TYPES = [
  "connector.connected",
  "connector.updated",
  "connector.disconnected",
  "connector.restored",
  "connector.auth_failed",
  "connection.activated",
  "connection.unauthenticated",
  "connection.disconnected",
  "connection.deleted",
  "purchase.created",
  "shop_integration.updated",
  "connector.webhook_received",
  "webhook_endpoint.auto_paused",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export interface NewEvent {
  entityId: string;
  type: EventType;
  /**
   * A projection (toConnectorRow, toConnection, toShopIntegration, …): never a
   * secret. It is the `data` of every webhook delivery. A `shop_integration.*`
   * event's data carries the integration's `id` (toShopIntegration): the
   * integration's own webhook_url receives it.
   */
  data: object;
  at: Date;
  /**
   * A simulated event (POST /webhooks/simulate): it goes only to the Subtotal
   * webhook destinations that accept simulated events, never to /v1 endpoints.
   */
  simulated?: boolean;
  /** The event's id when the caller needs it first (a UUIDv7 of `at`); made here otherwise. */
  id?: string;
}

/** Whether an event is live (`livemode` of its delivery): false when its subject is a sandbox (or test) object. */
export function eventLivemode(data: unknown): boolean {
  const mode = (data as { mode?: unknown } | null)?.mode;
  return mode !== "sandbox" && mode !== "test";
}

/** The event types Subtotal-style webhook destinations (/webhooks) can enable (docs.subtotal.com webhooks/events). */
export const DESTINATION_EVENT_TYPES = [
  "connection.activated",
  "connection.unauthenticated",
  "connection.disconnected",
  "connection.deleted",
  "purchase.created",
] as const satisfies readonly EventType[];

/**
 * Writes an event into the outbox and fans it out to its webhook targets.
 * Call it with the transaction that makes the change: the event and its
 * deliveries exist if and only if the change committed, and the job runner
 * sends every committed delivery at least once.
 *
 * One statement, whatever the number of targets: the event row, a delivery
 * per target (each enabled endpoint of the entity subscribed to the type or
 * to "*"; for shop_integration.* events also the integration itself when its
 * webhook is active; each of the entity's Subtotal-style destinations that
 * enabled the type), and a `webhook.deliver` job per delivery, due at once.
 * A simulated event reaches only the destinations that accept simulated events.
 * The statement is deferrable (db/deferred.ts): it costs no round trip of its own.
 */
export async function emitEvent(trx: Database, event: NewEvent): Promise<string> {
  const id = event.id ?? uuidv7(event.at);
  // A shop integration's own webhook receives the events that have a Sendcloud action (sendcloud-webhooks.ts).
  const shopEvent = (SHOP_WEBHOOK_EVENT_TYPES as readonly string[]).includes(event.type);
  const subjectId = shopEvent ? String((event.data as { id?: unknown }).id ?? "") : "";
  const simulated = event.simulated === true;
  // Test endpoints receive test-mode events only (docs.arcuserp.com api-reference/webhooks): an event is
  // test-mode when its subject is a sandbox connector (the data's mode), live otherwise.
  const endpointMode = eventLivemode(event.data) ? "live" : "test";
  const family = `${event.type.slice(0, event.type.indexOf("."))}.*`;
  // emit_event() (migration 0033, the fan-out and its rules; its plan is prepared once per connection): the
  // event row and a delivery per target — delivery ids are the event id's first 19 characters (its UUIDv7
  // timestamp and counter) with a random tail, so an endpoint's deliveries sort in event order — and, in the
  // same statement, a webhook.deliver job per delivery, due at once, queued through the queue's own insert (a
  // shop integration's delivery on the Sendcloud schedule). Nothing is read back: on PostgreSQL the statement
  // travels with the transaction's next statement or its COMMIT (db/deferred.ts).
  const call = insertJobsFrom(DELIVER_WEBHOOK_JOB, {
    from: sql`emit_event(${id}::uuid, ${event.entityId}::uuid, ${event.type}::text, ${JSON.stringify(event.data)}::jsonb,
      ${event.at}::timestamptz, ${simulated}::boolean, ${shopEvent}::boolean, ${subjectId}::text, ${endpointMode}::text, ${family}::text) d`,
    payload: sql`case when d.shop then jsonb_build_object('delivery_id', d.delivery_id, 'schedule', 'sendcloud') else jsonb_build_object('delivery_id', d.delivery_id) end`,
    runAt: event.at,
    maxAttempts: sql<number>`case when d.shop then ${SENDCLOUD_TRIES}::int else ${DELIVERY_TRIES}::int end`,
  });
  await executeDeferrable(trx, call.compile(trx));
  return id;
}

/**
 * Writes an event with one delivery to one endpoint, whatever the endpoint's
 * subscription (a webhook endpoint's test event), in the caller's
 * transaction. The caller queues the delivery's job.
 */
export async function insertEventForEndpoint(
  trx: Database,
  { eventId, deliveryId, entityId, type, data, endpointId, at }: { eventId: string; deliveryId: string; entityId: string; type: string; data: object; endpointId: string; at: Date },
): Promise<void> {
  await trx.insertInto("events").values({ id: eventId, entity_id: entityId, type, data: JSON.stringify(data), created_at: at }).execute();
  await trx.insertInto("webhook_deliveries").values({ id: deliveryId, event_id: eventId, endpoint_id: endpointId, connector_id: null, next_attempt_at: at, created_at: at, updated_at: at }).execute();
}
