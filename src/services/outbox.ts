import type { Kysely } from "kysely";
import type { DB } from "../db/schema.ts";
import { uuidv7 } from "./ids.ts";

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
  "shop_integration.updated",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export interface NewEvent {
  entityId: string;
  type: EventType;
  /** A projection (toConnectorRow, toConnection, …): never a secret. */
  data: object;
  at: Date;
}

/**
 * Writes an event into the outbox. Call it with the transaction that makes
 * the change: the event exists if and only if the change committed, and the
 * delivery worker sends every committed event at least once.
 */
export async function emitEvent(trx: Kysely<DB>, event: NewEvent): Promise<string> {
  const id = uuidv7(event.at);
  await trx
    .insertInto("events")
    .values({ id, entity_id: event.entityId, type: event.type, data: JSON.stringify(event.data), created_at: event.at })
    .execute();
  return id;
}
