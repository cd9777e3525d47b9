import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import type { WebhookEndpointRecord } from "../db/schema.ts";
import type { Vault } from "../vault/vault.ts";
import type { ApiKeyActor } from "../auth/actor.ts";
import { auditActorOf, diffFields } from "./audit.ts";
import { recordChange } from "./record-change.ts";
import { ConflictError, NotFoundError, PermissionError, ValidationError } from "../kernel/errors.ts";
import { isUuid, uuidv7 } from "../kernel/ids.ts";
import { EVENT_TYPES } from "./outbox.ts";
import { assertDeliverableUrl, type UrlPolicy } from "../providers/webhook-address.ts";
import {
  newSigningSecret,
  PREVIOUS_SIGNING_SECRET_PURPOSE,
  ROTATION_OVERLAP_MS,
  SIGNING_SECRET_PURPOSE,
  signingSecretPlace,
} from "./webhook-signing.ts";

/** An entity may have this many endpoints: each event fans out to all of them. */
export const MAX_ENDPOINTS_PER_ENTITY = 16;

/** The one shape in which an endpoint leaves the service. Its signing secrets never do (but once, see WithSecret). */
export interface WebhookEndpoint {
  object: "webhook_endpoint";
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
  description: string | null;
  created_at: string;
  updated_at: string;
}

/** The answer of create and rotate_secret: the only two places a signing secret is shown. */
export type WebhookEndpointWithSecret = WebhookEndpoint & { secret: string };

/** The endpoint fields an audit entry shows (the object has no secret; timestamps are the entry's own). */
const ENDPOINT_AUDIT_FIELDS = ["url", "events", "enabled", "description"] as const;

export function toWebhookEndpoint(r: WebhookEndpointRecord): WebhookEndpoint {
  return {
    object: "webhook_endpoint",
    id: r.id,
    url: r.url,
    events: r.events,
    enabled: r.enabled,
    description: r.description,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}

export interface EndpointInput {
  url: string;
  events: string[];
  enabled?: boolean;
  description?: string | null;
}

export interface ListOptions {
  limit: number;
  startingAfter?: string;
  endingBefore?: string;
}

export interface WebhookEndpointServiceDeps {
  db: Database;
  clock: Clock;
  vault: Vault;
  urls: UrlPolicy;
}

/**
 * Webhook endpoints: where an entity's events are POSTed, signed with the
 * endpoint's secret. The secret is sealed in the vault at creation and shown
 * in that answer only; a rotation makes a new one and keeps the old one
 * signing (as a second v1) for 24 h.
 */
export function createWebhookEndpointService({ db, clock, vault, urls }: WebhookEndpointServiceDeps) {
  async function findOwned(actor: ApiKeyActor, id: string): Promise<WebhookEndpointRecord> {
    assertLiveKey(actor);
    const row = isUuid(id) ? await db.selectFrom("webhook_endpoints").selectAll().where("id", "=", id).where("entity_id", "=", actor.entityId).executeTakeFirst() : undefined;
    if (!row) throw endpointNotFound();
    return row;
  }

  return {
    findOwned,

    async listEndpoints(actor: ApiKeyActor, opts: ListOptions): Promise<{ data: WebhookEndpoint[]; hasMore: boolean }> {
      assertLiveKey(actor);
      const backwards = opts.endingBefore !== undefined && opts.startingAfter === undefined;
      const rows = await db
        .selectFrom("webhook_endpoints")
        .selectAll()
        .where("entity_id", "=", actor.entityId)
        .$if(opts.startingAfter !== undefined, (qb) => qb.where("id", "<", opts.startingAfter!))
        .$if(backwards, (qb) => qb.where("id", ">", opts.endingBefore!))
        .orderBy("id", backwards ? "asc" : "desc")
        .limit(opts.limit + 1)
        .execute();
      const page = rows.slice(0, opts.limit);
      if (backwards) page.reverse();
      return { data: page.map(toWebhookEndpoint), hasMore: rows.length > opts.limit };
    },

    async getEndpoint(actor: ApiKeyActor, id: string): Promise<WebhookEndpoint> {
      return toWebhookEndpoint(await findOwned(actor, id));
    },

    async createEndpoint(actor: ApiKeyActor, input: EndpointInput): Promise<WebhookEndpointWithSecret> {
      assertLiveKey(actor);
      const events = checkedEvents(input.events);
      const url = await assertDeliverableUrl(input.url, urls);
      const secret = newSigningSecret();
      return db.transaction().execute(async (trx) => {
        // The entity row is the lock that keeps the count honest under concurrent creates.
        await trx.selectFrom("entities").select("id").where("id", "=", actor.entityId).forUpdate().executeTakeFirstOrThrow();
        const { n } = await trx.selectFrom("webhook_endpoints").select((eb) => eb.fn.countAll<string>().as("n")).where("entity_id", "=", actor.entityId).executeTakeFirstOrThrow();
        if (Number(n) >= MAX_ENDPOINTS_PER_ENTITY) {
          throw new ConflictError("too_many_endpoints", `An entity may have at most ${MAX_ENDPOINTS_PER_ENTITY} webhook endpoints.`, "Delete an endpoint you no longer use, or subscribe one endpoint to more events.");
        }
        const now = clock.now();
        const row = await trx
          .insertInto("webhook_endpoints")
          .values({ id: uuidv7(now), entity_id: actor.entityId, url, events, enabled: input.enabled ?? true, description: input.description ?? null, previous_secret_expires_at: null, created_at: now, updated_at: now })
          .returningAll()
          .executeTakeFirstOrThrow();
        await vault.sealSecret(trx, signingSecretPlace(row, SIGNING_SECRET_PURPOSE), secret);
        const view = toWebhookEndpoint(row);
        await recordChange(trx, { entityId: row.entity_id, actor: auditActorOf(actor), action: "webhook_endpoint.created", target: { type: "webhook_endpoint", id: row.id }, changes: diffFields(null, view, ENDPOINT_AUDIT_FIELDS), at: now });
        return { ...view, secret };
      });
    },

    async updateEndpoint(actor: ApiKeyActor, id: string, patch: Partial<EndpointInput>): Promise<WebhookEndpoint> {
      const existing = await findOwned(actor, id);
      const url = patch.url === undefined ? undefined : await assertDeliverableUrl(patch.url, urls);
      const events = patch.events === undefined ? undefined : checkedEvents(patch.events);
      return db.transaction().execute(async (trx) => {
        const now = clock.now();
        const row = await trx
          .updateTable("webhook_endpoints")
          .set({
            ...(url !== undefined ? { url } : {}),
            ...(events !== undefined ? { events } : {}),
            ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
            ...(patch.description !== undefined ? { description: patch.description } : {}),
            updated_at: now,
          })
          .where("id", "=", existing.id)
          .returningAll()
          .executeTakeFirst();
        if (!row) throw endpointNotFound();
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
    async rotateSecret(actor: ApiKeyActor, id: string): Promise<WebhookEndpointWithSecret & { previous_secret_expires_at: string }> {
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
          .set({ previous_secret_expires_at: expires, updated_at: now })
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
        return { ...toWebhookEndpoint(row), secret, previous_secret_expires_at: expires.toISOString() };
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

/**
 * Endpoints receive the entity's events from live connectors too, so a test
 * key (which only ever sees sandbox data) may not manage them.
 */
function assertLiveKey(actor: ApiKeyActor): void {
  if (actor.mode === "test") {
    throw new PermissionError("live_mode_forbidden", "A test key (ark_test_ent_…) cannot manage webhook endpoints: they receive live events too.", {
      hint: "Use a live key (ark_live_ent_…) with the webhooks:manage scope.",
    });
  }
}

/** Known event types, each once, or "*" alone. */
function checkedEvents(events: string[]): string[] {
  if (events.length === 0) throw new ValidationError(`"events" must name at least one event type, or "*".`, { param: "events" });
  const known: readonly string[] = EVENT_TYPES;
  events.forEach((e, i) => {
    if (e !== "*" && !known.includes(e)) {
      throw new ValidationError(`"events.${i}" is not an event type; use "*" or one of: ${EVENT_TYPES.join(", ")}.`, { param: `events.${i}` });
    }
  });
  if (events.includes("*") && events.length > 1) throw new ValidationError(`"*" subscribes to every event type; send it alone.`, { param: "events" });
  return [...new Set(events)];
}

export function endpointNotFound(): NotFoundError {
  return new NotFoundError("webhook_endpoint_not_found", "No such webhook endpoint.", { to: "list_webhook_endpoints" });
}
