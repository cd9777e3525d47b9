import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { v1Hint } from "../integrations/errors.ts";
import { Type } from "@sinclair/typebox";
import { normalizeError, type NormalizedError } from "./http-errors.ts";
import { StringEnum } from "./schema-types.ts";

export const FLAT_ERROR_SCHEMA_ID = "Error";

/** The flat error body of /v1 and /admin/v1, registered once at the root. */
export const FlatErrorSchema = Type.Object(
  {
    error: Type.String({ description: "What went wrong, for a person." }),
    code: Type.String({ description: "Stable machine-readable code." }),
    type: StringEnum(["invalid_request_error", "authentication_error", "permission_error", "rate_limit_error", "idempotency_error", "api_error"] as const),
    hint: Type.Optional(Type.String({ description: "What to do about it." })),
    param: Type.Optional(Type.String({ description: "The offending field." })),
    required: Type.Optional(Type.String({ description: "insufficient_scope: the scope the route needs." })),
    request_id: Type.String(),
  },
  { $id: FLAT_ERROR_SCHEMA_ID },
);

export type FlatErrorType = "invalid_request_error" | "authentication_error" | "permission_error" | "rate_limit_error" | "idempotency_error" | "api_error";

function typeFor(e: NormalizedError): FlatErrorType {
  if (e.status === 401) return "authentication_error";
  if (e.status === 403) return "permission_error";
  if (e.status === 429) return "rate_limit_error";
  if (e.code.startsWith("idempotency_")) return "idempotency_error";
  if (e.status >= 500) return "api_error";
  return "invalid_request_error";
}

/** The flat error body of /v1 and /admin/v1: `{error, code, type, hint?, param?, request_id}`. */
export function flatErrorBody(e: NormalizedError, requestId: string) {
  return {
    error: e.message,
    code: e.code,
    type: typeFor(e),
    ...(e.hint ? { hint: e.hint } : {}),
    ...(e.param ? { param: e.param } : {}),
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
