
import { recordAudit, type AuditEntry } from "./audit.ts";
import { emitEvent, type EventType, type NewEvent } from "./outbox.ts";
import type { Database } from "../db/index.ts";

export interface Change extends AuditEntry {
  /** The webhook event the change emits, if it emits one: its data is a projection, never a secret. */
  event?: { type: EventType; data: NewEvent["data"]; entityId?: string };
}

/**
 * The one way to record a change: the caller has updated the row in `trx`;
 * this writes its outbox event (if any) and its audit entry in that same
 * transaction, so both exist exactly when the change committed.
 */
export async function recordChange(trx: Database, change: Change): Promise<void> {
  const { event, ...entry } = change;
  if (event) await emitEvent(trx, { entityId: event.entityId ?? entry.entityId!, type: event.type, data: event.data, at: entry.at });
  await recordAudit(trx, entry);
}
