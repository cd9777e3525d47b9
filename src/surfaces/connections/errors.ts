import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Type } from "@sinclair/typebox";
import { CONNECTION_FIELD_RULES } from "../../services/connections.ts";
import { DomainError, type Violation } from "../../kernel/errors.ts";
import { ULID_PATTERN } from "../../kernel/ids.ts";
import { normalizeError } from "../shared/http-errors.ts";

/**
 * The connections surface answers errors the way a FastAPI service does
 * (SPEC §1): 422 `{detail:[{loc, msg, type}]}` for every invalid input, listing
 * every violation; `{detail:"…"}` for everything else.
 */
export const HttpErrorSchema = Type.Object({ detail: Type.String() }, { $id: "ConnectionsHTTPError" });
export const ValidationErrorSchema = Type.Object(
  {
    detail: Type.Array(
      Type.Object({
        loc: Type.Array(Type.Union([Type.String(), Type.Integer()]), { description: 'Where: ["body", "email"], ["query", "customer_id"], ["path", "connection_id"]' }),
        msg: Type.String(),
        type: Type.String({ description: "missing, extra_forbidden, string_type, string_too_long, string_too_short, string_pattern_mismatch, value_error, enum, json_invalid, …" }),
      }),
    ),
  },
  { $id: "ConnectionsValidationError" },
);

export interface ValidationDetail {
  loc: (string | number)[];
  msg: string;
  type: string;
}

export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(statuses.map((s) => [s, Type.Ref(s === 422 ? "ConnectionsValidationError" : "ConnectionsHTTPError")]));
}

const LOCATION: Record<string, string> = { body: "body", querystring: "query", params: "path", headers: "header" };

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Friendlier words for the patterns this surface uses. */
const PATTERN_MESSAGES: Record<string, string> = {
  [CONNECTION_FIELD_RULES.mobilePattern]: "String should be an E.164 phone number: + and a country code, at most 15 digits (e.g. +14155550123)",
  [ULID_PATTERN]: "String should be a ULID: 26 characters of Crockford base32 (e.g. 01J7SC0NN73R6F5VVSP3ZKPDA3)",
};

function ajvDetail(e: AjvError, where: string, bodyMissing: boolean): ValidationDetail {
  const path: (string | number)[] = e.instancePath
    .split("/")
    .filter(Boolean)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  const loc = [where, ...path];
  switch (e.keyword) {
    case "required":
      return { loc: [...loc, String(e.params.missingProperty)], msg: "Field required", type: "missing" };
    case "additionalProperties":
      return { loc: [...loc, String(e.params.additionalProperty)], msg: "Extra inputs are not permitted", type: "extra_forbidden" };
    case "type": {
      if (bodyMissing && path.length === 0) return { loc, msg: "Field required", type: "missing" };
      const expected = String(e.params.type).split(",")[0];
      if (expected === "object") return { loc, msg: "Input should be a valid dictionary or object to extract fields from", type: "model_attributes_type" };
      return { loc, msg: `Input should be a valid ${expected}`, type: `${expected}_type` };
    }
    case "maxLength":
      return { loc, msg: `String should have at most ${e.params.limit} character${e.params.limit === 1 ? "" : "s"}`, type: "string_too_long" };
    case "minLength":
      return { loc, msg: `String should have at least ${e.params.limit} character${e.params.limit === 1 ? "" : "s"}`, type: "string_too_short" };
    case "pattern": {
      const pattern = String(e.params.pattern);
      return { loc, msg: PATTERN_MESSAGES[pattern] ?? `String should match pattern '${pattern}'`, type: "string_pattern_mismatch" };
    }
    case "format":
      if (e.params.format === "email") return { loc, msg: "value is not a valid email address", type: "value_error" };
      return { loc, msg: `Input should be a valid ${String(e.params.format)}`, type: "value_error" };
    case "enum": {
      const allowed = (e.params.allowedValues as unknown[]).filter((v) => v !== null).map((v) => `'${String(v)}'`);
      const list = allowed.length > 1 ? `${allowed.slice(0, -1).join(", ")} or ${allowed.at(-1)}` : allowed[0];
      return { loc, msg: `Input should be ${list}`, type: "enum" };
    }
    default:
      return { loc, msg: e.message ?? "Invalid input", type: "value_error" };
  }
}

function domainDetail(v: Violation, where: string): ValidationDetail {
  return { loc: [where, ...v.param.split(".")], msg: v.message, type: "value_error" };
}

/** The status, body and headers this surface answers for anything a route throws. */
export function connectionsError(err: unknown, request?: FastifyRequest): { status: number; body: { detail: string | ValidationDetail[] }; headers: Record<string, string> } {
  const fe = err as FastifyError & { validation?: AjvError[]; validationContext?: string };
  if (fe.validation) {
    const where = LOCATION[fe.validationContext ?? "body"] ?? "body";
    const bodyMissing = where === "body" && request?.body === undefined;
    return { status: 422, body: { detail: fe.validation.map((e) => ajvDetail(e, where, bodyMissing)) }, headers: {} };
  }
  if (fe.code === "FST_ERR_CTP_INVALID_JSON_BODY") return { status: 422, body: { detail: [{ loc: ["body"], msg: "JSON decode error", type: "json_invalid" }] }, headers: {} };
  if (fe.code === "FST_ERR_CTP_EMPTY_JSON_BODY") return { status: 422, body: { detail: [{ loc: ["body"], msg: "Field required", type: "missing" }] }, headers: {} };

  const e = normalizeError(err);
  // A bad Idempotency-Key header is a 400 on every surface (SPEC §3), not a field of the body.
  if (err instanceof DomainError && err.kind === "validation" && err.code.startsWith("idempotency_")) {
    return { status: 400, body: { detail: e.hint ? `${e.message} ${e.hint}` : e.message }, headers: {} };
  }
  if (err instanceof DomainError && (err.kind === "validation" || err.kind === "forbidden_field")) {
    return { status: 422, body: { detail: e.violations.map((v) => domainDetail(v, "body")) }, headers: {} };
  }
  const headers: Record<string, string> = {};
  // Unknown paths and methods in FastAPI's own words.
  if (e.code === "route_not_found") return { status: 404, body: { detail: "Not Found" }, headers };
  if (e.code === "method_not_allowed") return { status: 405, body: { detail: "Method Not Allowed" }, headers };
  if (e.status === 401) headers["www-authenticate"] = e.code.includes("connection_token") ? 'Bearer realm="connections"' : 'ApiKey header="x-api-key"';
  if (typeof e.meta?.retry_after === "number") headers["retry-after"] = String(e.meta.retry_after);
  // A 500 says nothing about internals; a 503 (the database is unreachable) says what to do.
  const detail = e.status >= 500 && e.status !== 503 ? "Internal Server Error" : e.hint ? `${e.message} ${e.hint}` : e.message;
  return { status: e.status, body: { detail }, headers };
}

export function sendConnectionsError(request: FastifyRequest, reply: FastifyReply, err: unknown) {
  const { status, body, headers } = connectionsError(err, request);
  if (status >= 500) request.log.error({ err }, "request failed");
  return reply.status(status).headers(headers).send(body);
}

/** Installs this surface's error shape for every error thrown under the plugin. */
export function useConnectionsErrors(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => sendConnectionsError(request, reply, err));
}
