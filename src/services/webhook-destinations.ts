import { ulidToUUID } from "ulid";
import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import type { WebhookDestinationRecord } from "../db/schema.ts";
import type { SecretPlace, Vault } from "../vault/vault.ts";
import type { ApiKeyActor } from "../auth/actor.ts";
import { auditActorOf, diffFields } from "./audit.ts";
import { recordChange } from "./record-change.ts";
import { lockEntity } from "./entities.ts";
import { ConflictError, NotFoundError, PermissionError, ValidationError } from "../kernel/errors.ts";
import { ulidAt, ULID_PATTERN } from "../kernel/ids.ts";
import { DESTINATION_EVENT_TYPES, emitEvent } from "./outbox.ts";
import { simulatedEventData } from "./webhook-simulation.ts";
import { assertDeliverableUrl, type UrlPolicy } from "../providers/webhook-address.ts";
import { newSigningSecret } from "./webhook-signing.ts";

/** An entity may have this many destinations (as many as /v1 endpoints). */
export const MAX_DESTINATIONS_PER_ENTITY = 16;
export const DESTINATION_NAME_MAX = 100;

/** Vault purpose of a destination's signing secret (part of the blob's authenticated data). */
export const DESTINATION_SECRET_PURPOSE = "webhook_destination.signing_secret";

export type DestinationEventType = (typeof DESTINATION_EVENT_TYPES)[number];

/**
 * The one shape in which a destination leaves the service (docs.subtotal.com
 * webhooks/configuration: a name, a URL, the enabled events, whether it
 * accepts simulated events). The signing secret never does, but once.
 */
export interface WebhookDestination {
  destination_id: string;
  name: string;
  url: string;
  events: string[];
  accepts_simulated_events: boolean;
  created_at: string;
  updated_at: string;
}

/** The answer of POST /webhooks: the only place the signing secret is shown. */
export type WebhookDestinationWithSecret = WebhookDestination & { signing_secret: string };

const AUDIT_FIELDS = ["name", "url", "events", "accepts_simulated_events"] as const;

export function toWebhookDestination(r: WebhookDestinationRecord): WebhookDestination {
  return {
    destination_id: r.id,
    name: r.name,
    url: r.url,
    events: r.events,
    accepts_simulated_events: r.accepts_simulated_events,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}

export function destinationSecretPlace(d: Pick<WebhookDestinationRecord, "id" | "entity_id">): SecretPlace {
  // The vault keys secrets by a UUID owner; a ULID is the same 128 bits.
  return { entityId: d.entity_id, ownerId: ulidToUUID(d.id), purpose: DESTINATION_SECRET_PURPOSE };
}

export interface DestinationInput {
  name: string;
  url: string;
  events: string[];
  accepts_simulated_events?: boolean;
}

export interface WebhookDestinationServiceDeps {
  db: Database;
  clock: Clock;
  vault: Vault;
  urls: UrlPolicy;
}

/**
 * Subtotal-style webhook destinations (/webhooks). Events reach them through
 * the one outbox (emitEvent), signed with X-Subtotal-Signature by the
 * delivery job; this service keeps their settings and their sealed secret.
 */
/** One destination by id, whoever owns it (a delivery's target). */
export function selectDestinationById(db: Database, id: string): Promise<WebhookDestinationRecord | undefined> {
  return db.selectFrom("webhook_destinations").selectAll().where("id", "=", id).executeTakeFirst();
}

export function createWebhookDestinationService({ db, clock, vault, urls }: WebhookDestinationServiceDeps) {
  async function findOwned(actor: ApiKeyActor, id: string): Promise<WebhookDestinationRecord> {
    assertLiveKey(actor);
    const row = new RegExp(ULID_PATTERN).test(id)
      ? await db.selectFrom("webhook_destinations").selectAll().where("id", "=", id).where("entity_id", "=", actor.entityId).executeTakeFirst()
      : undefined;
    if (!row) throw destinationNotFound(id);
    return row;
  }

  return {
    async listDestinations(actor: ApiKeyActor): Promise<WebhookDestination[]> {
      assertLiveKey(actor);
      const rows = await db.selectFrom("webhook_destinations").selectAll().where("entity_id", "=", actor.entityId).orderBy("id").execute();
      return rows.map(toWebhookDestination);
    },

    async getDestination(actor: ApiKeyActor, id: string): Promise<WebhookDestination> {
      return toWebhookDestination(await findOwned(actor, id));
    },

    async createDestination(actor: ApiKeyActor, input: DestinationInput): Promise<WebhookDestinationWithSecret> {
      assertLiveKey(actor);
      const events = checkedEvents(input.events);
      const url = await assertDeliverableUrl(input.url, urls);
      const name = checkedName(input.name);
      const secret = newSigningSecret();
      return db.transaction().execute(async (trx) => {
        // The entity row is the lock that keeps the count honest under concurrent creates.
        await lockEntity(trx, actor.entityId);
        const { n } = await trx.selectFrom("webhook_destinations").select((eb) => eb.fn.countAll<string>().as("n")).where("entity_id", "=", actor.entityId).executeTakeFirstOrThrow();
        if (Number(n) >= MAX_DESTINATIONS_PER_ENTITY) {
          throw new ConflictError("too_many_destinations", `An entity may have at most ${MAX_DESTINATIONS_PER_ENTITY} webhook destinations.`, "Delete a destination you no longer use.");
        }
        const now = clock.now();
        const row = await trx
          .insertInto("webhook_destinations")
          .values({ id: ulidAt(now), entity_id: actor.entityId, name, url, events, accepts_simulated_events: input.accepts_simulated_events ?? false, created_at: now, updated_at: now })
          .returningAll()
          .executeTakeFirstOrThrow();
        await vault.sealSecret(trx, destinationSecretPlace(row), secret);
        const view = toWebhookDestination(row);
        await recordChange(trx, { entityId: row.entity_id, actor: auditActorOf(actor), action: "webhook_destination.created", target: { type: "webhook_destination", id: row.id }, changes: diffFields(null, view, AUDIT_FIELDS), at: now });
        return { ...view, signing_secret: secret };
      });
    },

    async updateDestination(actor: ApiKeyActor, id: string, patch: Partial<DestinationInput>): Promise<WebhookDestination> {
      const existing = await findOwned(actor, id);
      const url = patch.url === undefined ? undefined : await assertDeliverableUrl(patch.url, urls);
      const events = patch.events === undefined ? undefined : checkedEvents(patch.events);
      const name = patch.name === undefined ? undefined : checkedName(patch.name);
      return db.transaction().execute(async (trx) => {
        const now = clock.now();
        const row = await trx
          .updateTable("webhook_destinations")
          .set({
            ...(name !== undefined ? { name } : {}),
            ...(url !== undefined ? { url } : {}),
            ...(events !== undefined ? { events } : {}),
            ...(patch.accepts_simulated_events !== undefined ? { accepts_simulated_events: patch.accepts_simulated_events } : {}),
            updated_at: now,
          })
          .where("id", "=", existing.id)
          .returningAll()
          .executeTakeFirst();
        if (!row) throw destinationNotFound(id);
        const view = toWebhookDestination(row);
        const changes = diffFields(toWebhookDestination(existing), view, AUDIT_FIELDS);
        if (Object.keys(changes).length > 0) {
          await recordChange(trx, { entityId: row.entity_id, actor: auditActorOf(actor), action: "webhook_destination.updated", target: { type: "webhook_destination", id: row.id }, changes, at: now });
        }
        return view;
      });
    },

    /** Deletes the destination, its secret and its deliveries (queued ones are dropped). */
    async deleteDestination(actor: ApiKeyActor, id: string): Promise<void> {
      const existing = await findOwned(actor, id);
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom("webhook_destinations").where("id", "=", existing.id).execute();
        await vault.destroySecretsOf(trx, [ulidToUUID(existing.id)]);
        await recordChange(trx, {
          entityId: existing.entity_id,
          actor: auditActorOf(actor),
          action: "webhook_destination.deleted",
          target: { type: "webhook_destination", id: existing.id },
          changes: diffFields(toWebhookDestination(existing), null, AUDIT_FIELDS),
          at: clock.now(),
        });
      });
    },

    /**
     * POST /webhooks/simulate (the reference's event simulator): one simulated
     * event of each asked type (default: every type), sent only to the
     * destinations that accept simulated events and enabled that type.
     */
    async simulateEvents(actor: ApiKeyActor, types: readonly string[] | undefined): Promise<{ events: { id: string; type: DestinationEventType }[] }> {
      assertLiveKey(actor);
      const chosen = types === undefined ? [...DESTINATION_EVENT_TYPES] : (checkedEvents(types) as DestinationEventType[]);
      const now = clock.now();
      const events = await db.transaction().execute(async (trx) => {
        const out: { id: string; type: DestinationEventType }[] = [];
        for (const type of chosen) {
          const id = await emitEvent(trx, { entityId: actor.entityId, type, data: simulatedEventData(type, now), at: now, simulated: true });
          out.push({ id: subtotalEventId(id), type });
        }
        await recordChange(trx, {
          entityId: actor.entityId,
          actor: auditActorOf(actor),
          action: "webhook_destination.events_simulated",
          target: { type: "webhook_destination", id: "*" },
          changes: { events: { before: null, after: chosen } },
          at: now,
        });
        return out;
      });
      return { events };
    },

    async openSigningSecret(destination: WebhookDestinationRecord): Promise<string | null> {
      return vault.openSecret<string>(db, destinationSecretPlace(destination));
    },
  };
}

export type WebhookDestinationService = ReturnType<typeof createWebhookDestinationService>;

/** The `id` of a Subtotal delivery: the event's UUIDv7 written as a ULID (the same 128 bits, the same millisecond prefix). */
export function subtotalEventId(eventId: string): string {
  const hex = eventId.replace(/-/g, "");
  let n = BigInt(`0x${hex}`);
  const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  let out = "";
  for (let i = 0; i < 26; i++) {
    out = alphabet[Number(n & 31n)] + out;
    n >>= 5n;
  }
  return out;
}

/** Destinations receive live customers' events, so a test key may not manage them (as /v1 endpoints). */
function assertLiveKey(actor: ApiKeyActor): void {
  if (actor.mode === "test") {
    throw new PermissionError("live_mode_forbidden", "A test key cannot manage webhook destinations: they receive live events too.", {
      hint: "Use a live key with the webhooks:manage scope.",
    });
  }
}

function checkedName(raw: string): string {
  const name = raw.trim();
  if (name === "") throw ValidationError.of([{ param: "name", message: "The name may not be empty." }]);
  return name;
}

/** Subtotal event types, each once, at least one. */
function checkedEvents(events: readonly string[]): string[] {
  const known: readonly string[] = DESTINATION_EVENT_TYPES;
  const bad = events.map((e, i) => ({ e, i })).filter(({ e }) => !known.includes(e));
  if (bad.length > 0) {
    throw ValidationError.of(bad.map(({ e, i }) => ({ param: `events.${i}`, message: `"${e}" is not an event type; use one of: ${DESTINATION_EVENT_TYPES.join(", ")}.` })));
  }
  if (events.length === 0) throw ValidationError.of([{ param: "events", message: "Enable at least one event type." }]);
  return [...new Set(events)];
}

export function destinationNotFound(id: string): NotFoundError {
  return new NotFoundError("webhook_destination_not_found", `No webhook destination with id ${JSON.stringify(id)}.`, "GET /webhooks lists them.");
}
