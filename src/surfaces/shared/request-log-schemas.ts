import { Type, type Static } from "@sinclair/typebox";
import type { RequestLogListOptions } from "../../services/request-logs.ts";
import { StringEnum, Timestamp, Uuid } from "./schema-types.ts";
import { ListOf, listEnvelope, PageQuery, pageOptions } from "./list-page.ts";
import type { Page } from "../../services/pagination.ts";

/**
 * The request log's list query and item, shared by GET /v1/request_logs (an
 * entity's own key, scope request_logs:read) and GET
 * /admin/v1/entities/{id}/request_logs (the operator). Pagination as every
 * /v1 list (docs.arcuserp.com concepts/pagination): limit, starting_after,
 * ending_before, include_count.
 */
export const RequestLogsQuery = PageQuery("A request log id", {
  status: Type.Optional(Type.String({ pattern: "^([1-5][0-9][0-9]|[1-5]xx)$", description: "One status (404) or a class (4xx)" })),
  method: Type.Optional(Type.String({ pattern: "^[A-Za-z]{3,7}$", description: "GET, POST, PUT, PATCH, DELETE, …" })),
  path_prefix: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, pattern: "^/", description: "Paths starting with this, e.g. /v1/integrations" })),
  api_key_id: Type.Optional(Type.String({ format: "uuid", description: "Only this key's requests" })),
  created_gte: Type.Optional(Type.String({ format: "date-time", description: "Entries at or after this time (RFC 3339, with a zone)" })),
  created_lte: Type.Optional(Type.String({ format: "date-time", description: "Entries at or before this time (RFC 3339, with a zone)" })),
});

export type RequestLogsQueryType = Static<typeof RequestLogsQuery>;

export const RequestLogSchema = Type.Object(
  {
    id: Uuid,
    object: Type.Literal("request_log"),
    method: Type.String(),
    path: Type.String({ description: "The path and query as requested, secret query values replaced by [redacted]" }),
    status: Type.Integer({ description: "The HTTP status answered" }),
    latency_ms: Type.Integer({ description: "From the request's arrival to the last byte of the answer" }),
    client_ip: Type.String({ description: "The client's address as the server saw it" }),
    request_id: Type.String({ description: "The answer's x-request-id" }),
    api_key_id: Uuid,
    mode: StringEnum(["live", "test"] as const, { description: "The key's mode" }),
    created_at: Timestamp,
  },
  { description: "One request of an entity's API key: never a header or a body." },
);

export const RequestLogList = ListOf(RequestLogSchema);

export const REQUEST_LOGS_DESCRIPTION =
  "Every request an API key of the entity made, on every surface (/v1, /connections, /api/v3), newest first: method, path (secret query values " +
  "redacted), status, latency, client address, request id, key and mode; never headers or bodies. Written in batches (PATCHBAY_REQUEST_LOG_FLUSH_MS), " +
  "kept PATCHBAY_REQUEST_LOG_RETENTION_DAYS. Requests refused before a key was recognised (401) belong to no entity and are not listed. " +
  "Filter by status (200 or 4xx), method, path_prefix, api_key_id and created_gte/created_lte; page with starting_after (older) and ending_before (newer).";

/** The service's list options from a validated query. */
export function requestLogListOptions(q: RequestLogsQueryType): RequestLogListOptions {
  return {
    ...pageOptions(q),
    status: q.status === undefined ? undefined : q.status.endsWith("xx") ? (q.status as RequestLogListOptions["status"]) : Number(q.status),
    method: q.method,
    pathPrefix: q.path_prefix,
    apiKeyId: q.api_key_id,
    createdGte: q.created_gte === undefined ? undefined : new Date(q.created_gte),
    createdLte: q.created_lte === undefined ? undefined : new Date(q.created_lte),
  };
}

/** The list envelope; total_count only when asked for. */
export function requestLogPage(page: Page<unknown>, url: string) {
  return listEnvelope(page as Page<Static<typeof RequestLogSchema>>, url);
}
