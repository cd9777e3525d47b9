import type { Kysely } from "kysely";
import { ulidToUUID } from "ulid";
import type { ConnectionRecord, DB } from "../db/schema.ts";
import type { SecretPlace, Vault } from "../vault/vault.ts";
import { diffFields, recordAudit, type AuditActor } from "./audit.ts";
import { toConnection } from "./connection-view.ts";
import { emitEvent } from "./outbox.ts";

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
  trx: Kysely<DB>,
  vault: LoginVault,
  existing: ConnectionRecord,
  login: { username: string; password: string },
  actor: AuditActor,
  at: Date,
): Promise<ConnectionRecord> {
  await vault.sealSecret(trx, loginPlace(existing), login);
  const updated = await trx
    .updateTable("connections")
    .set((eb) => ({
      status: "active",
      credentials_version: eb("credentials_version", "+", 1),
      linked_at: at,
      link_attempts: 0,
      last_checked_at: at,
      updated_at: at,
    }))
    .where("id", "=", existing.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  // Re-linking an active connection replaces its login; the status does not change, so no event.
  if (existing.status !== "active") {
    await emitEvent(trx, { entityId: existing.entity_id, type: "connection.activated", data: toConnection(updated), at });
  }
  await recordAudit(trx, {
    entityId: existing.entity_id,
    actor,
    action: "connection.linked",
    target: { type: "connection", id: existing.id },
    changes: diffFields(toConnection(existing), toConnection(updated), ["status"]),
    at,
  });
  return updated;
}

/** active → unauthenticated: the retailer rejected the stored login. The login is destroyed; re-linking brings it back. */
export async function markUnauthenticated(trx: Kysely<DB>, vault: LoginVault, existing: ConnectionRecord, actor: AuditActor, at: Date): Promise<ConnectionRecord> {
  await vault.destroySecret(trx, loginPlace(existing));
  const updated = await trx
    .updateTable("connections")
    .set({ status: "unauthenticated", updated_at: at })
    .where("id", "=", existing.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await emitEvent(trx, { entityId: existing.entity_id, type: "connection.unauthenticated", data: toConnection(updated), at });
  await recordAudit(trx, {
    entityId: existing.entity_id,
    actor,
    action: "connection.unauthenticated",
    target: { type: "connection", id: existing.id },
    changes: diffFields(toConnection(existing), toConnection(updated), ["status"]),
    at,
  });
  return updated;
}
