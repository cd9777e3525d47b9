import type { Kysely } from "kysely";
import type { DB } from "../db/schema.ts";
import { uuidv7 } from "./ids.ts";

/** Who did it: an entity's API key, the operator (admin token), or Patchbay itself (jobs). */
export interface AuditActor {
  type: "api_key" | "admin" | "system";
  id: string | null;
  requestId?: string;
}

export type FieldChanges = Record<string, { before: unknown; after: unknown }>;

export interface AuditEntry {
  entityId: string | null;
  actor: AuditActor;
  action: string;
  target: { type: string; id: string };
  changes?: FieldChanges;
  at: Date;
}

/** Records one write in the audit log, in the caller's transaction. */
export async function recordAudit(trx: Kysely<DB>, entry: AuditEntry): Promise<void> {
  await trx
    .insertInto("audit_events")
    .values({
      id: uuidv7(entry.at),
      entity_id: entry.entityId,
      actor_type: entry.actor.type,
      actor_id: entry.actor.id,
      action: entry.action,
      target_type: entry.target.type,
      target_id: entry.target.id,
      request_id: entry.actor.requestId ?? null,
      changes: JSON.stringify(entry.changes ?? {}),
      created_at: entry.at,
    })
    .execute();
}

/**
 * The before/after of the named fields that differ. Callers pass projections
 * and name the fields, so a secret cannot reach the audit log by accident.
 */
export function diffFields<T extends object>(before: T | null, after: T | null, fields: readonly (keyof T & string)[]): FieldChanges {
  const changes: FieldChanges = {};
  for (const f of fields) {
    const b = before ? before[f] : undefined;
    const a = after ? after[f] : undefined;
    if (JSON.stringify(b) !== JSON.stringify(a)) changes[f] = { before: b ?? null, after: a ?? null };
  }
  return changes;
}
