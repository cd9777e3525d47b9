import { Type, type Static } from "@sinclair/typebox";
import type { AuditListOptions } from "../../services/audit.ts";
import { Nullable, StringEnum, Timestamp, Uuid } from "./schema-types.ts";
import { ListOf, pageOptions, pageQueryFields } from "./list-page.ts";

/**
 * The audit log's list query and item, shared by GET /v1/audit_events (an
 * entity's own key) and GET /admin/v1/entities/{id}/audit_events (the operator).
 */
export const AuditEventsQuery = Type.Object(
  {
    ...pageQueryFields("An audit event id"),
    target_type: Type.Optional(Type.String({ pattern: "^[a-z_]{1,64}$", description: "connector, shop_integration, connection, api_key, entity" })),
    target_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: "The target's id (a connector uuid, a shop integration's integer id, …)" })),
    created_gte: Type.Optional(Type.String({ format: "date-time", description: "Entries at or after this time (RFC 3339, with a zone)" })),
    created_lte: Type.Optional(Type.String({ format: "date-time", description: "Entries at or before this time (RFC 3339, with a zone)" })),
  },
  { additionalProperties: false },
);

export type AuditEventsQueryType = Static<typeof AuditEventsQuery>;

export const AuditEventSchema = Type.Object(
  {
    object: Type.Literal("audit_event"),
    id: Uuid,
    actor: Type.Object({
      type: StringEnum(["api_key", "admin", "system"] as const),
      id: Nullable(Type.String({ description: "api_key: the key's id; system: the job or flow; admin: null (one admin token)" })),
    }),
    action: Type.String({ description: "<target type>.<what happened>, e.g. connector.updated; the README lists them all" }),
    target: Type.Object({ type: Type.String(), id: Type.String() }),
    request_id: Nullable(Type.String({ description: "The request that made the change (x-request-id); null for jobs" })),
    changes: Type.Record(Type.String(), Type.Object({ before: Type.Unknown(), after: Type.Unknown() }), {
      description: "The non-secret fields that changed, before and after; credentials only as has_* flags and key names",
    }),
    created_at: Timestamp,
  },
  { description: "One write: who, what, on which record, when. Never a secret." },
);

export const AuditEventList = ListOf(AuditEventSchema);

/** The service's list options from a validated query. */
export function auditListOptions(q: AuditEventsQueryType): AuditListOptions {
  return {
    ...pageOptions(q),
    targetType: q.target_type,
    targetId: q.target_id,
    createdGte: q.created_gte === undefined ? undefined : new Date(q.created_gte),
    createdLte: q.created_lte === undefined ? undefined : new Date(q.created_lte),
  };
}
