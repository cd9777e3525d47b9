
import { diffFields, type AuditAction, type AuditActor } from "./audit.ts";
import { ROW_FIELDS, type ConnectorRow } from "./connector-row.ts";
import type { EventType } from "./outbox.ts";
import { recordChange } from "./record-change.ts";
import type { Database } from "../db/index.ts";

/**
 * The connector row fields an audit entry may show: every non-secret field
 * a write can change. Credentials appear only as has_* flags and key names
 * (the projection never carries more); timestamps are left out, the entry
 * has its own.
 */
export const CONNECTOR_AUDIT_FIELDS = [
  // Never changes: it shows on a create only.
  "connector_type",
  "display_name",
  "mode",
  "is_active",
  "config",
  ...ROW_FIELDS,
  "disconnected_at",
  "has_credentials_secret_arn",
  "credentials_masked",
  "has_webhook_secret",
  "sync_status",
  "sync_error",
] as const satisfies readonly (keyof ConnectorRow)[];

export type ConnectorAuditField = (typeof CONNECTOR_AUDIT_FIELDS)[number];

export interface ConnectorChange {
  actor: AuditActor;
  /** The audit action, `connector.<past participle>` (README "Audit log"). */
  action: AuditAction;
  /** The row before the write (null for a create) and after it, both projections. */
  before: ConnectorRow | null;
  after: ConnectorRow;
  /** The webhook event the write emits, if it emits one. */
  event?: EventType;
  /** The fields to compare; by default every audited field. */
  fields?: readonly ConnectorAuditField[];
  at: Date;
}

/**
 * Writes a connector change's outbox event and audit entry in the caller's
 * transaction (the one that made the change): both exist exactly when the
 * change committed. Two INSERTs; the caller already holds both rows.
 */
export async function recordConnectorChange(trx: Database, change: ConnectorChange): Promise<void> {
  const { after } = change;
  await recordChange(trx, {
    event: change.event && { type: change.event, data: after },
    entityId: after.entity_id,
    actor: change.actor,
    action: change.action,
    target: { type: "connector", id: after.id },
    changes: diffFields(change.before, after, change.fields ?? CONNECTOR_AUDIT_FIELDS),
    at: change.at,
  });
}
