import { keysetPage, type Page, type PageOptions } from "./pagination.ts";
import { CompiledQuery, type Selectable } from "kysely";
import type { Database } from "../db/index.ts";
import type { DB } from "../db/schema.ts";
import type { ApiKeyActor } from "../auth/actor.ts";
import { executeDeferrable } from "../db/deferred.ts";
import { lowestUuidv7At, uuidv7 } from "../kernel/ids.ts";

/** Who did it: an entity's API key, the operator (admin token), or Patchbay itself (jobs). */
export interface AuditActor {
  type: "api_key" | "admin" | "system";
  id: string | null;
  requestId?: string;
}

/** The audit actor of a request made with an API key. */
export function auditActorOf(actor: ApiKeyActor): AuditActor {
  return { type: "api_key", id: actor.keyId, requestId: actor.requestId };
}

/** The operator: there is one admin token, so the admin actor has no id. */
export function adminActor(requestId?: string): AuditActor {
  return { type: "admin", id: null, requestId };
}

/** Patchbay itself: `id` names the job or flow that made the change. */
export function systemActor(id: string): AuditActor {
  return { type: "system", id };
}

/** Every audit action Patchbay records, `<target type>.<past participle>` (README "Audit log"): a misspelt one does not compile. */
export const AUDIT_ACTIONS = [
  "api_key.created",
  "api_key.revoked",
  "api_key.rolled",
  "connection.created",
  "connection.deleted",
  "connection.disconnected",
  "connection.linked",
  "connection.token_issued",
  "connection.unauthenticated",
  "connection.updated",
  "connector.auth_failed",
  "connector.created",
  "connector.credentials_deleted",
  "connector.credentials_refreshed",
  "connector.credentials_stored",
  "connector.disconnected",
  "connector.health_changed",
  "connector.oauth_completed",
  "connector.oauth_started",
  "connector.purged",
  "connector.restored",
  "connector.updated",
  "connector.webhook_secret_deleted",
  "connector.webhook_secret_stored",
  "entity.created",
  "link_token.created",
  "link_token.revoked",
  "shop_integration.updated",
  "webhook_delivery.retried",
  "webhook_destination.created",
  "webhook_destination.deleted",
  "webhook_destination.events_simulated",
  "webhook_destination.updated",
  "webhook_endpoint.auto_paused",
  "webhook_endpoint.created",
  "webhook_endpoint.deleted",
  "webhook_endpoint.secret_rotated",
  "webhook_endpoint.updated",
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export type FieldChanges = Record<string, { before: unknown; after: unknown }>;

export interface AuditEntry {
  entityId: string | null;
  actor: AuditActor;
  action: AuditAction;
  target: { type: string; id: string };
  changes?: FieldChanges;
  at: Date;
}

/** Records one write in the audit log, in the caller's transaction. Services call recordChange (record-change.ts). */
export async function recordAudit(trx: Database, entry: AuditEntry): Promise<void> {
  // Deferrable (db/deferred.ts): nothing is read back, so it travels with the transaction's next statement or its COMMIT.
  const insert = CompiledQuery.raw(INSERT_AUDIT_EVENT, [
    uuidv7(entry.at),
    entry.entityId,
    entry.actor.type,
    entry.actor.id,
    entry.action,
    entry.target.type,
    entry.target.id,
    entry.actor.requestId ?? null,
    JSON.stringify(entry.changes ?? {}),
    entry.at,
  ]);
  await executeDeferrable(trx, insert);
}

/** One statement of fixed text, built once rather than by the query builder for every write (issue 16). */
const INSERT_AUDIT_EVENT = `insert into audit_events (id, entity_id, actor_type, actor_id, action, target_type, target_id, request_id, changes, created_at)
  values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`;

/**
 * The before/after of the named fields that differ. Callers pass projections
 * and name the fields, so a secret cannot reach the audit log by accident.
 * Absent and null are the same: a create lists only the fields it set.
 */
export function diffFields<T extends object>(before: T | null, after: T | null, fields: readonly (keyof T & string)[]): FieldChanges {
  const changes: FieldChanges = {};
  for (const f of fields) {
    const b = (before ? before[f] : undefined) ?? null;
    const a = (after ? after[f] : undefined) ?? null;
    if (JSON.stringify(b) !== JSON.stringify(a)) changes[f] = { before: b, after: a };
  }
  return changes;
}

/** The one shape in which an audit entry leaves the service (GET /v1/audit_events, the admin API, the CLI). */
export interface AuditEventView {
  object: "audit_event";
  id: string;
  actor: { type: AuditActor["type"]; id: string | null };
  action: string;
  target: { type: string; id: string };
  request_id: string | null;
  changes: FieldChanges;
  created_at: string;
}

export function toAuditEvent(a: Selectable<DB["audit_events"]>): AuditEventView {
  return {
    object: "audit_event",
    id: a.id,
    actor: { type: a.actor_type, id: a.actor_id },
    action: a.action,
    target: { type: a.target_type, id: a.target_id },
    request_id: a.request_id,
    changes: a.changes as FieldChanges,
    created_at: a.created_at.toISOString(),
  };
}

export interface AuditListOptions extends PageOptions {
  targetType?: string;
  targetId?: string;
  createdGte?: Date;
  createdLte?: Date;
}

export function createAuditLog({ db }: { db: Database }) {
  return {
    /**
     * One entity's audit log, newest first, cursor-paginated like every /v1
     * list (`starting_after` pages towards older entries, `ending_before`
     * towards newer ones), optionally for one target type or target and a
     * time range (inclusive).
     */
    async listAuditEvents(entityId: string, opts: AuditListOptions): Promise<Page<AuditEventView>> {
      const filtered = db
        .selectFrom("audit_events")
        .selectAll()
        .where("entity_id", "=", entityId)
        .$if(opts.targetType !== undefined, (qb) => qb.where("target_type", "=", opts.targetType!))
        .$if(opts.targetId !== undefined, (qb) => qb.where("target_id", "=", opts.targetId!))
        .$if(opts.createdGte !== undefined, (qb) => qb.where("id", ">=", lowestUuidv7At(opts.createdGte!)).where("created_at", ">=", opts.createdGte!))
        .$if(opts.createdLte !== undefined, (qb) => qb.where("created_at", "<=", opts.createdLte!));
      return keysetPage(filtered, "id", opts, toAuditEvent);
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
