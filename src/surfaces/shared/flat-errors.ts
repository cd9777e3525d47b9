import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { v1Hint } from "../integrations/errors.ts";
import { Type } from "@sinclair/typebox";
import { normalizeError, type NormalizedError } from "./http-errors.ts";
import { StringEnum } from "./schema-types.ts";

export const FLAT_ERROR_SCHEMA_ID = "Error";

/** Arcus's error categories (docs.arcuserp.com/concepts/errors, "Error types"). */
export const FLAT_ERROR_TYPES = ["validation_error", "permission_error", "not_found", "conflict", "rate_limit", "expand_error", "not_implemented", "internal"] as const;
export type FlatErrorType = (typeof FLAT_ERROR_TYPES)[number];

/**
 * The error envelope of /v1 and /admin/v1, as Arcus's errors page defines it,
 * registered once at the root.
 */
export const FlatErrorSchema = Type.Object(
  {
    error: Type.String({ description: "Machine-readable error key (always present)." }),
    code: Type.String({ description: "Same as error (included for forward compatibility)." }),
    type: StringEnum(FLAT_ERROR_TYPES, { description: "Error category: validation_error (400/422 and other refused requests), permission_error (401/403), not_found (404), conflict (409), rate_limit (429), not_implemented (501), internal (500, 502, 503, 504)." }),
    hint: Type.String({ description: "Human-readable explanation (with what to do about it, where Patchbay knows)." }),
    param: Type.Union([Type.String(), Type.Null()], { description: "The request parameter that caused the error, or null." }),
    required: Type.Optional(Type.String({ description: "The scope required (only on insufficient_scope errors)." })),
    request_id: Type.String({ description: "Unique request ID for support tracing (also the X-Request-ID header)." }),
  },
  { $id: FLAT_ERROR_SCHEMA_ID },
);

/** The category by HTTP status, as the errors page's "Error types" table maps them. */
export function flatErrorType(status: number): FlatErrorType {
  if (status === 401 || status === 403) return "permission_error";
  if (status === 404) return "not_found";
  if (status === 409) return "conflict";
  if (status === 429) return "rate_limit";
  if (status === 501) return "not_implemented";
  if (status >= 500) return "internal";
  // 400, 422 and the other refusals of a malformed request (405, 408, 413, 414, 415, 431).
  return "validation_error";
}

/** The flat error body of /v1 and /admin/v1: `{error, code, type, hint, param, required?, request_id}`. */
export function flatErrorBody(e: NormalizedError, requestId: string) {
  return {
    error: e.code,
    code: e.code,
    type: flatErrorType(e.status),
    hint: e.hint ? `${e.message} ${e.hint}` : e.message,
    param: e.param ?? null,
    ...(typeof e.meta?.required === "string" ? { required: e.meta.required } : {}),
    request_id: requestId,
  };
}

export function sendFlatError(request: FastifyRequest, reply: FastifyReply, err: unknown) {
  const e = normalizeError(err, v1Hint);
  if (e.status >= 500) request.log.error({ err }, "request failed");
  if (e.status === 401) reply.header("www-authenticate", 'Bearer realm="patchbay"');
  if (typeof e.meta?.retry_after === "number") reply.header("retry-after", String(e.meta.retry_after));
  return reply.status(e.status).send(flatErrorBody(e, request.id));
}

/** Installs the flat error shape for every error thrown under this plugin. */
export function useFlatErrors(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => sendFlatError(request, reply, err));
}

/** Unknown routes answer in the flat shape (set once, at the root). */
export function flatNotFound(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(
      flatErrorBody(
        { status: 404, code: "route_not_found", message: `No route ${request.method} ${request.url.split("?")[0]}.`, hint: "See /docs or /openapi.json for the API.", violations: [], location: "path" },
        request.id,
      ),
    ),
  );
}
