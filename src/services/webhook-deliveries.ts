import { sql } from "kysely";
import type { Clock } from "../clock.ts";
import type { Database } from "../db/index.ts";
import type { ConnectorRecord, WebhookDeliveryAttempt, WebhookDeliveryRecord, WebhookDestinationRecord, WebhookEndpointRecord } from "../db/schema.ts";
import type { JobQueue } from "../jobs/queue.ts";
import type { ApiKeyActor } from "./api-keys.ts";
import { auditActorOf, recordAudit } from "./audit.ts";
import { ConflictError, NotFoundError } from "./errors.ts";
import { isUuid } from "./ids.ts";
import type { ListOptions, WebhookEndpointService } from "./webhook-endpoints.ts";
import { DELIVER_WEBHOOK_JOB } from "./webhook-schedule.ts";

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
export interface DeliverJobPayload {
  delivery_id: string;
  manual?: boolean;
}

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
  jobs: JobQueue;
  endpoints: WebhookEndpointService;
}

export function createWebhookDeliveryService({ db, clock, jobs, endpoints }: WebhookDeliveryServiceDeps) {
  const withType = () =>
    db.selectFrom("webhook_deliveries as d").innerJoin("events as e", "e.id", "d.event_id").selectAll("d").select("e.type as event_type");

  return {
    /** GET /v1/webhook_endpoints/{id}/deliveries: the endpoint's deliveries, newest event first. */
    async listDeliveries(actor: ApiKeyActor, endpointId: string, opts: ListOptions): Promise<{ data: WebhookDelivery[]; hasMore: boolean }> {
      const endpoint = await endpoints.findOwned(actor, endpointId);
      const backwards = opts.endingBefore !== undefined && opts.startingAfter === undefined;
      const rows = await withType()
        .where("d.endpoint_id", "=", endpoint.id)
        .$if(opts.startingAfter !== undefined, (qb) => qb.where("d.id", "<", opts.startingAfter!))
        .$if(backwards, (qb) => qb.where("d.id", ">", opts.endingBefore!))
        .orderBy("d.id", backwards ? "asc" : "desc")
        .limit(opts.limit + 1)
        .execute();
      const page = rows.slice(0, opts.limit);
      if (backwards) page.reverse();
      return { data: page.map(toWebhookDelivery), hasMore: rows.length > opts.limit };
    },

    /**
     * POST …/deliveries/{id}/retry: one more try, now, whatever the status.
     * A pending delivery keeps its schedule; the outcome of this try is logged
     * like any other, and a success ends the delivery.
     */
    async retryDelivery(actor: ApiKeyActor, endpointId: string, deliveryId: string): Promise<WebhookDelivery> {
      const endpoint = await endpoints.findOwned(actor, endpointId);
      const row = isUuid(deliveryId) ? await withType().where("d.id", "=", deliveryId).where("d.endpoint_id", "=", endpoint.id).executeTakeFirst() : undefined;
      if (!row) throw new NotFoundError("webhook_delivery_not_found", "No such delivery for this endpoint.", "List them with GET /v1/webhook_endpoints/{id}/deliveries.");
      if (!endpoint.enabled) throw new ConflictError("endpoint_disabled", `This endpoint is ${endpoint.status}: nothing is sent to it.`, 'Set it active with PATCH {"status": "active"} first.');
      await db.transaction().execute(async (trx) => {
        await jobs.enqueue<DeliverJobPayload>(trx, DELIVER_WEBHOOK_JOB, { delivery_id: row.id, manual: true }, { maxAttempts: 1 });
        await recordAudit(trx, {
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
      const endpoint = delivery.endpoint_id ? ((await db.selectFrom("webhook_endpoints").selectAll().where("id", "=", delivery.endpoint_id).executeTakeFirst()) ?? null) : null;
      const connector = delivery.connector_id ? ((await db.selectFrom("connectors").selectAll().where("id", "=", delivery.connector_id).executeTakeFirst()) ?? null) : null;
      const destination = delivery.destination_id
        ? ((await db.selectFrom("webhook_destinations").selectAll().where("id", "=", delivery.destination_id).executeTakeFirst()) ?? null)
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
