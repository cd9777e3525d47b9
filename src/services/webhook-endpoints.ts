import { keysetPage, type Page, type PageOptions } from "./pagination.ts";
import { sql } from "kysely";
import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import type { WebhookEndpointRecord } from "../db/schema.ts";
import type { Jobs } from "../queue/job-types.ts";
import type { Vault } from "../vault/vault.ts";
import type { ApiKeyActor } from "../auth/actor.ts";
import { auditActorOf, diffFields, systemActor } from "./audit.ts";
import { recordChange } from "./record-change.ts";
import { lockEntity } from "./entities.ts";
import { ConflictError, NotFoundError, PermissionError, ValidationError } from "../kernel/errors.ts";
import { isUuid, uuidv7 } from "../kernel/ids.ts";
import { emitEvent, EVENT_TYPES, insertEventForEndpoint } from "./outbox.ts";
import { DELIVER_WEBHOOK_JOB, DELIVERY_TRIES } from "./webhook-schedule.ts";
import { assertDeliverableUrl, type UrlPolicy } from "../providers/webhook-address.ts";
import {
  newSigningSecret,
  PREVIOUS_SIGNING_SECRET_PURPOSE,
  ROTATION_OVERLAP_MS,
  SIGNING_SECRET_PURPOSE,
  signingSecretPlace,
} from "./webhook-signing.ts";

/** The event a test delivery carries (send_test_event_on_create, POST …/send_test_event); never fanned out. */
export const TEST_EVENT_TYPE = "webhook.test";

/** An entity may have this many endpoints: each event fans out to all of them. */
export const MAX_ENDPOINTS_PER_ENTITY = 16;

/** The API version event payloads are serialized in, unless an endpoint pins its own (docs.arcuserp.com/concepts/webhooks). */
export const WEBHOOK_API_VERSION = "2026-05-01";
/** docs.arcuserp.com api-reference/webhooks: "Arbitrary key-value pairs (up to 50 keys)". */
export const MAX_METADATA_KEYS = 50;
/** docs.arcuserp.com api-reference/webhooks: "5+ consecutive failures auto-pauses the endpoint." */
export const AUTO_PAUSE_AFTER_FAILURES = 5;

export type EndpointStatus = "active" | "paused" | "disabled";
export type EndpointMode = "live" | "test";

/**
 * The one shape in which an endpoint leaves the service, as the Arcus webhook
 * endpoint object. Its signing secrets never do (but once, see WithSecret).
 */
export interface WebhookEndpoint {
  id: string;
  object: "webhook_endpoint";
  entity_id: string;
  url: string;
  description: string | null;
  enabled_events: string[];
  secret_last4: string | null;
  status: EndpointStatus;
  mode: EndpointMode;
  api_version: string | null;
  success_count: number;
  failure_count: number;
  consecutive_failure_count: number;
  last_delivery_at: string | null;
  created_at: string;
  updated_at: string;
  metadata: Record<string, unknown>;
}

/** The answer of create and rotate_secret: the only two places a signing secret is shown. */
export type WebhookEndpointWithSecret = WebhookEndpoint & { secret: string };

/** The endpoint fields an audit entry shows (the object has no secret; timestamps and counters are not changes). */
const ENDPOINT_AUDIT_FIELDS = ["url", "enabled_events", "status", "mode", "api_version", "description", "metadata"] as const;

export function toWebhookEndpoint(r: WebhookEndpointRecord): WebhookEndpoint {
  return {
    id: r.id,
    object: "webhook_endpoint",
    entity_id: r.entity_id,
    url: r.url,
    description: r.description,
    enabled_events: r.events,
    secret_last4: r.secret_last4,
    status: r.status,
    mode: r.mode,
    api_version: r.api_version,
    success_count: r.success_count,
    failure_count: r.failure_count,
    consecutive_failure_count: r.consecutive_failure_count,
    last_delivery_at: r.last_delivery_at?.toISOString() ?? null,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
    metadata: r.metadata,
  };
}

export interface EndpointInput {
  url: string;
  /** The subscription; `events` is its deprecated alias, ignored when both are sent. */
  enabled_events?: string[];
  events?: string[];
  description?: string | null;
  status?: EndpointStatus;
  mode?: EndpointMode;
  api_version?: string | null;
  metadata?: Record<string, unknown>;
  send_test_event_on_create?: boolean;
}

/** What send_test_event_on_create and POST …/send_test_event answer. */
export interface TestEventQueued {
  event_id: string;
  queued_delivery_id: string;
  status: "queued";
}

export type ListOptions = PageOptions;

export interface WebhookEndpointServiceDeps {
  db: Database;
  clock: Clock;
  vault: Vault;
  urls: UrlPolicy;
  jobs: Jobs;
}

/**
 * Webhook endpoints: where an entity's events are POSTed, signed with the
 * endpoint's secret. The secret is sealed in the vault at creation and shown
 * in that answer only; a rotation makes a new one and keeps the old one
 * signing (as a second v1) for 24 h.
 */
/** One endpoint by id, whoever owns it (a delivery's target). */
export function selectEndpointById(db: Database, id: string): Promise<WebhookEndpointRecord | undefined> {
  return db.selectFrom("webhook_endpoints").selectAll().where("id", "=", id).executeTakeFirst();
}

export function createWebhookEndpointService({ db, clock, vault, urls, jobs }: WebhookEndpointServiceDeps) {
  /** The entity's endpoint; a test key may act on test endpoints only (403 live_mode_forbidden on a live one). */
  async function findOwned(actor: ApiKeyActor, id: string): Promise<WebhookEndpointRecord> {
    const row = isUuid(id) ? await db.selectFrom("webhook_endpoints").selectAll().where("id", "=", id).where("entity_id", "=", actor.entityId).executeTakeFirst() : undefined;
    if (!row) throw endpointNotFound();
    assertKeyMayManage(actor, row.mode);
    return row;
  }

  /**
   * One webhook.test event, delivered to this endpoint only (whatever its
   * subscription), in the caller's transaction.
   */
  async function queueTestEvent(trx: Database, endpoint: WebhookEndpointRecord, now: Date): Promise<TestEventQueued> {
    const eventId = uuidv7(now);
    const deliveryId = uuidv7(now);
    const data = { object: "webhook_endpoint", id: endpoint.id, url: endpoint.url, mode: endpoint.mode, test: true };
    await insertEventForEndpoint(trx, { eventId, deliveryId, entityId: endpoint.entity_id, type: TEST_EVENT_TYPE, data, endpointId: endpoint.id, at: now });
    await jobs.enqueue(trx, DELIVER_WEBHOOK_JOB, { delivery_id: deliveryId }, { maxAttempts: DELIVERY_TRIES });
    return { event_id: eventId, queued_delivery_id: deliveryId, status: "queued" };
  }

  return {
    findOwned,

    async listEndpoints(actor: ApiKeyActor, opts: ListOptions): Promise<Page<WebhookEndpoint>> {
      const filtered = db
        .selectFrom("webhook_endpoints")
        .selectAll()
        .where("entity_id", "=", actor.entityId)
        .$if(actor.mode === "test", (qb) => qb.where("mode", "=", "test"));
      return keysetPage(filtered, "id", opts, toWebhookEndpoint);
    },

    async getEndpoint(actor: ApiKeyActor, id: string): Promise<WebhookEndpoint> {
      return toWebhookEndpoint(await findOwned(actor, id));
    },

    async createEndpoint(actor: ApiKeyActor, input: EndpointInput): Promise<WebhookEndpointWithSecret & { test_event?: TestEventQueued }> {
      const mode = input.mode ?? (actor.mode === "test" ? "test" : "live");
      assertKeyMayManage(actor, mode);
      const events = checkedEvents(subscriptionOf(input) ?? [], subscriptionParam(input));
      const metadata = checkedMetadata(input.metadata ?? {});
      const url = await assertDeliverableUrl(input.url, urls);
      const secret = newSigningSecret();
      const status = input.status ?? "active";
      return db.transaction().execute(async (trx) => {
        // The entity row is the lock that keeps the count honest under concurrent creates.
        await lockEntity(trx, actor.entityId);
        const { n } = await trx.selectFrom("webhook_endpoints").select((eb) => eb.fn.countAll<string>().as("n")).where("entity_id", "=", actor.entityId).executeTakeFirstOrThrow();
        if (Number(n) >= MAX_ENDPOINTS_PER_ENTITY) {
          throw new ConflictError("too_many_endpoints", `An entity may have at most ${MAX_ENDPOINTS_PER_ENTITY} webhook endpoints.`, "Delete an endpoint you no longer use, or subscribe one endpoint to more events.");
        }
        const now = clock.now();
        const row = await trx
          .insertInto("webhook_endpoints")
          .values({
            id: uuidv7(now),
            entity_id: actor.entityId,
            url,
            events,
            enabled: status === "active",
            status,
            mode,
            api_version: input.api_version ?? null,
            metadata: JSON.stringify(metadata),
            secret_last4: secret.slice(-4),
            description: input.description ?? null,
            previous_secret_expires_at: null,
            created_at: now,
            updated_at: now,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        await vault.sealSecret(trx, signingSecretPlace(row, SIGNING_SECRET_PURPOSE), secret);
        const view = toWebhookEndpoint(row);
        await recordChange(trx, { entityId: row.entity_id, actor: auditActorOf(actor), action: "webhook_endpoint.created", target: { type: "webhook_endpoint", id: row.id }, changes: diffFields(null, view, ENDPOINT_AUDIT_FIELDS), at: now });
        const testEvent = input.send_test_event_on_create === true ? await queueTestEvent(trx, row, now) : undefined;
        return { ...view, secret, ...(testEvent ? { test_event: testEvent } : {}) };
      });
    },

    /** POST /v1/webhook_endpoints/{id}/send_test_event: one webhook.test event to this endpoint. */
    async sendTestEvent(actor: ApiKeyActor, id: string): Promise<TestEventQueued> {
      const endpoint = await findOwned(actor, id);
      if (endpoint.status !== "active") {
        throw new ConflictError("endpoint_not_active", `This endpoint is ${endpoint.status}: nothing is sent to it.`, 'Set it active with PATCH {"status": "active"} first.');
      }
      return db.transaction().execute((trx) => queueTestEvent(trx, endpoint, clock.now()));
    },

    async updateEndpoint(actor: ApiKeyActor, id: string, patch: Partial<EndpointInput>): Promise<WebhookEndpoint> {
      const existing = await findOwned(actor, id);
      // api-reference/webhooks: "disabled is permanently off" — it is not made active or paused again.
      const revives = patch.status !== undefined && patch.status !== "disabled";
      const disabledError = () =>
        new ConflictError("endpoint_disabled", "This endpoint is disabled, which is permanent: it cannot be set active or paused again.", "Create a new endpoint, or pause (not disable) an endpoint you mean to resume.");
      if (existing.status === "disabled" && revives) throw disabledError();
      const url = patch.url === undefined ? undefined : await assertDeliverableUrl(patch.url, urls);
      const subscription = subscriptionOf(patch);
      const events = subscription === undefined ? undefined : checkedEvents(subscription, subscriptionParam(patch));
      const metadata = patch.metadata === undefined ? undefined : checkedMetadata(patch.metadata);
      return db.transaction().execute(async (trx) => {
        const now = clock.now();
        const row = await trx
          .updateTable("webhook_endpoints")
          .set({
            ...(url !== undefined ? { url } : {}),
            ...(events !== undefined ? { events } : {}),
            // Setting an endpoint active again starts its failure count afresh.
            ...(patch.status !== undefined ? { status: patch.status, enabled: patch.status === "active", ...(patch.status === "active" && existing.status !== "active" ? { consecutive_failure_count: 0 } : {}) } : {}),
            ...(patch.description !== undefined ? { description: patch.description } : {}),
            ...(patch.api_version !== undefined ? { api_version: patch.api_version } : {}),
            ...(metadata !== undefined ? { metadata: JSON.stringify(metadata) } : {}),
            updated_at: now,
          })
          .where("id", "=", existing.id)
          // Disabled by another request since it was read above: still never made active or paused again.
          .$if(revives, (q) => q.where("status", "<>", "disabled"))
          .returningAll()
          .executeTakeFirst();
        if (!row) {
          if (revives && (await trx.selectFrom("webhook_endpoints").select("status").where("id", "=", existing.id).executeTakeFirst())?.status === "disabled") throw disabledError();
          throw endpointNotFound();
        }
        const view = toWebhookEndpoint(row);
        const changes = diffFields(toWebhookEndpoint(existing), view, ENDPOINT_AUDIT_FIELDS);
        // A PATCH that changes nothing records nothing (as on every surface).
        if (Object.keys(changes).length > 0) {
          await recordChange(trx, { entityId: row.entity_id, actor: auditActorOf(actor), action: "webhook_endpoint.updated", target: { type: "webhook_endpoint", id: row.id }, changes, at: now });
        }
        return view;
      });
    },

    /** Deletes the endpoint, its secrets and its delivery log; queued deliveries to it are dropped. */
    async deleteEndpoint(actor: ApiKeyActor, id: string): Promise<{ object: "webhook_endpoint"; id: string; deleted: true }> {
      const existing = await findOwned(actor, id);
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom("webhook_endpoints").where("id", "=", existing.id).execute();
        await vault.destroySecretsOf(trx, [existing.id]);
        await recordChange(trx, {
          entityId: existing.entity_id,
          actor: auditActorOf(actor),
          action: "webhook_endpoint.deleted",
          target: { type: "webhook_endpoint", id: existing.id },
          changes: diffFields(toWebhookEndpoint(existing), null, ENDPOINT_AUDIT_FIELDS),
          at: clock.now(),
        });
      });
      return { object: "webhook_endpoint", id: existing.id, deleted: true };
    },

    /**
     * A new signing secret; the current one becomes the previous one and keeps
     * signing until `previous_secret_expires_at` (24 h). Rotating again within
     * that window ends the older secret at once: there are never more than two.
     */
    async rotateSecret(actor: ApiKeyActor, id: string): Promise<WebhookEndpointWithSecret & { previous_secret_expires_at: string; webhook_id: string; last4: string; rotated_at: string }> {
      const existing = await findOwned(actor, id);
      const secret = newSigningSecret();
      return db.transaction().execute(async (trx) => {
        const locked = await trx.selectFrom("webhook_endpoints").selectAll().where("id", "=", existing.id).forUpdate().executeTakeFirst();
        if (!locked) throw endpointNotFound();
        const current = await vault.openSecret<string>(trx, signingSecretPlace(locked, SIGNING_SECRET_PURPOSE));
        if (current !== null) await vault.sealSecret(trx, signingSecretPlace(locked, PREVIOUS_SIGNING_SECRET_PURPOSE), current);
        await vault.sealSecret(trx, signingSecretPlace(locked, SIGNING_SECRET_PURPOSE), secret);
        const now = clock.now();
        const expires = new Date(now.getTime() + ROTATION_OVERLAP_MS);
        const row = await trx
          .updateTable("webhook_endpoints")
          .set({ previous_secret_expires_at: expires, secret_last4: secret.slice(-4), updated_at: now })
          .where("id", "=", locked.id)
          .returningAll()
          .executeTakeFirstOrThrow();
        // The secrets themselves are never in the log: only that a rotation happened, and until when the old one signs.
        await recordChange(trx, {
          entityId: row.entity_id,
          actor: auditActorOf(actor),
          action: "webhook_endpoint.secret_rotated",
          target: { type: "webhook_endpoint", id: row.id },
          changes: { previous_secret_expires_at: { before: locked.previous_secret_expires_at?.toISOString() ?? null, after: expires.toISOString() } },
          at: now,
        });
        // api-reference/webhooks/rotate…: webhook_id, secret, last4, rotated_at — beside the endpoint record.
        return { ...toWebhookEndpoint(row), secret, previous_secret_expires_at: expires.toISOString(), webhook_id: row.id, last4: secret.slice(-4), rotated_at: now.toISOString() };
      });
    },

    /**
     * Counts one attempt on its endpoint: a success resets the consecutive
     * failures; the AUTO_PAUSE_AFTER_FAILURES-th consecutive failure pauses an
     * active endpoint (it keeps its subscription) and emits
     * webhook_endpoint.auto_paused, in the same statement's transaction.
     */
    async countAttempt(endpointId: string, ok: boolean, at: Date): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const row = await trx
          .updateTable("webhook_endpoints")
          .set(
            ok
              ? { success_count: sql`success_count + 1`, consecutive_failure_count: 0, last_delivery_at: at }
              : { failure_count: sql`failure_count + 1`, consecutive_failure_count: sql`consecutive_failure_count + 1`, last_delivery_at: at },
          )
          .where("id", "=", endpointId)
          .returningAll()
          .executeTakeFirst();
        if (!row || ok || row.status !== "active" || row.consecutive_failure_count < AUTO_PAUSE_AFTER_FAILURES) return;
        const paused = await trx
          .updateTable("webhook_endpoints")
          .set({ status: "paused", enabled: false, updated_at: at })
          .where("id", "=", row.id)
          .where("status", "=", "active")
          .returningAll()
          .executeTakeFirst();
        if (!paused) return;
        const view = toWebhookEndpoint(paused);
        await recordChange(trx, {
          entityId: paused.entity_id,
          actor: systemActor("webhook.deliver"),
          action: "webhook_endpoint.auto_paused",
          target: { type: "webhook_endpoint", id: paused.id },
          changes: { status: { before: "active", after: "paused" } },
          event: { type: "webhook_endpoint.auto_paused", data: { ...view, mode: paused.mode === "test" ? "sandbox" : "live" } },
          at,
        });
      });
    },

    /** The secrets a delivery is signed with at `now`: the current one, and the previous one within its overlap. */
    async openSigningSecrets(endpoint: WebhookEndpointRecord, now: Date): Promise<string[]> {
      const secrets: string[] = [];
      const current = await vault.openSecret<string>(db, signingSecretPlace(endpoint, SIGNING_SECRET_PURPOSE));
      if (current !== null) secrets.push(current);
      if (endpoint.previous_secret_expires_at !== null && endpoint.previous_secret_expires_at > now) {
        const previous = await vault.openSecret<string>(db, signingSecretPlace(endpoint, PREVIOUS_SIGNING_SECRET_PURPOSE));
        if (previous !== null) secrets.push(previous);
      }
      return secrets;
    },
  };
}

export type WebhookEndpointService = ReturnType<typeof createWebhookEndpointService>;

/** A test key manages test endpoints only; a live key both kinds. */
function assertKeyMayManage(actor: ApiKeyActor, mode: EndpointMode): void {
  if (actor.mode === "test" && mode === "live") {
    throw new PermissionError("live_mode_forbidden", "A test key (ark_test_ent_…) can only manage test webhook endpoints.", {
      hint: 'Leave mode out (or send "test"), or use a live key (ark_live_ent_…).',
    });
  }
}

/** enabled_events, else its deprecated alias events (ignored when both are sent). */
function subscriptionOf(input: Partial<EndpointInput>): string[] | undefined {
  return input.enabled_events ?? input.events;
}

function subscriptionParam(input: Partial<EndpointInput>): string {
  return input.enabled_events !== undefined || input.events === undefined ? "enabled_events" : "events";
}

/** The family wildcards an event type list may use: `<family>.*` for each family Patchbay emits. */
export const EVENT_FAMILIES = [...new Set(EVENT_TYPES.map((t) => t.slice(0, t.indexOf("."))))];

/** Known event types, `<family>.*` wildcards, or "*" alone; each once. */
function checkedEvents(events: string[], param: string): string[] {
  if (events.length === 0) throw new ValidationError(`"${param}" must name at least one event type, or "*".`, { param });
  const known: readonly string[] = EVENT_TYPES;
  const families = EVENT_FAMILIES.map((f) => `${f}.*`);
  events.forEach((e, i) => {
    if (e !== "*" && !known.includes(e) && !families.includes(e)) {
      throw new ValidationError(`"${param}.${i}" is not an event type; use "*", a family wildcard (${families.join(", ")}) or one of: ${EVENT_TYPES.join(", ")}.`, { param: `${param}.${i}` });
    }
  });
  if (events.includes("*") && events.length > 1) throw new ValidationError(`"*" subscribes to every event type; send it alone.`, { param });
  return [...new Set(events)];
}

function checkedMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  const keys = Object.keys(metadata);
  if (keys.length > MAX_METADATA_KEYS) {
    throw new ValidationError(`"metadata" may hold at most ${MAX_METADATA_KEYS} keys; it has ${keys.length}.`, { param: "metadata" });
  }
  return metadata;
}

export function endpointNotFound(): NotFoundError {
  return new NotFoundError("webhook_endpoint_not_found", "No such webhook endpoint.", { to: "list_webhook_endpoints" });
}
