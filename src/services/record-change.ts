import type { Kysely } from "kysely";
import type { DB } from "../db/schema.ts";
import { recordAudit, type AuditEntry } from "./audit.ts";
import { emitEvent, type EventType, type NewEvent } from "./outbox.ts";

export interface Change extends AuditEntry {
  /** The webhook event the change emits, if it emits one: its data is a projection, never a secret. */
  event?: { type: EventType; data: NewEvent["data"]; entityId?: string };
}

/**
 * The one way to record a change: the caller has updated the row in `trx`;
 * this writes its outbox event (if any) and its audit entry in that same
 * transaction, so both exist exactly when the change committed.
 */
export async function recordChange(trx: Kysely<DB>, change: Change): Promise<void> {
  const { event, ...entry } = change;
  if (event) await emitEvent(trx, { entityId: event.entityId ?? entry.entityId!, type: event.type, data: event.data, at: entry.at });
  await recordAudit(trx, entry);
}
