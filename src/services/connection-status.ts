import { ulidToUUID } from "ulid";
import type { ConnectionRecord } from "../db/schema.ts";
import { markConnectionLinked, updateConnection } from "./connection-store.ts";
import type { SecretPlace, Vault } from "../vault/vault.ts";
import { diffFields, type AuditAction, type AuditActor } from "./audit.ts";
import type { EventType } from "./outbox.ts";
import { recordChange } from "./record-change.ts";
import { toConnection, type Connection } from "./connection-view.ts";
import type { Database } from "../db/index.ts";

/**
 * The status changes of a connection. Each runs in the caller's transaction
 * (which holds the row lock) and writes, with the change, its outbox event and
 * its audit entry — so an event exists exactly when the change committed.
 */

/** The vault operations connections use. */
export type LoginVault = Pick<Vault, "sealSecret" | "openSecret" | "destroySecret">;

/** The vault keys secrets by a UUID owner; a ULID is the same 128 bits, written differently. */
export function loginPlace(c: Pick<ConnectionRecord, "id" | "entity_id">): SecretPlace {
  return { entityId: c.entity_id, ownerId: ulidToUUID(c.id), purpose: "connection.retailer_login" };
}

/** initialized | unauthenticated | active → active: a login the retailer accepted, now sealed. */
export async function activateConnection(
  trx: Database,
  vault: LoginVault,
  existing: ConnectionRecord,
  login: { username: string; password: string },
  actor: AuditActor,
  at: Date,
): Promise<ConnectionRecord> {
  await vault.sealSecret(trx, loginPlace(existing), login);
  const updated = await markConnectionLinked(trx, existing.id, at);
  // Re-linking an active connection replaces its login; the status does not change, so no event.
  const event = existing.status !== "active" ? "connection.activated" : undefined;
  await recordConnectionChange(trx, { actor, action: "connection.linked", event, before: existing, after: updated, fields: ["status"], at });
  return updated;
}

/** active → unauthenticated: the retailer rejected the stored login. The login is destroyed; re-linking brings it back. */
export async function markUnauthenticated(trx: Database, vault: LoginVault, existing: ConnectionRecord, actor: AuditActor, at: Date): Promise<ConnectionRecord> {
  await vault.destroySecret(trx, loginPlace(existing));
  const updated = await updateConnection(trx, existing.id, { status: "unauthenticated", updated_at: at });
  await recordConnectionChange(trx, { actor, action: "connection.unauthenticated", event: "connection.unauthenticated", before: existing, after: updated, fields: ["status"], at });
  return updated;
}

export interface ConnectionChange {
  actor: AuditActor;
  action: AuditAction;
  /** The webhook event, if the change emits one: its data is the connection after the change (before it, for a delete). */
  event?: EventType;
  /** The row before the change (null for a create) and after it (null for a delete). */
  before: ConnectionRecord | null;
  after: ConnectionRecord | null;
  fields: readonly (keyof Connection & string)[];
  at: Date;
}

/** A connection's change: its event and audit entry, in the caller's transaction (recordChange). */
export async function recordConnectionChange(trx: Database, change: ConnectionChange): Promise<void> {
  const before = change.before && toConnection(change.before);
  const after = change.after && toConnection(change.after);
  const row = (change.after ?? change.before)!;
  await recordChange(trx, {
    event: change.event && { type: change.event, data: (after ?? before)! },
    entityId: row.entity_id,
    actor: change.actor,
    action: change.action,
    target: { type: "connection", id: row.id },
    changes: diffFields(before, after, change.fields),
    at: change.at,
  });
}
