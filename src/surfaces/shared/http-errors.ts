import type { FastifyError } from "fastify";
import { isDatabaseUnavailable } from "../../db/unavailable.ts";
import type { AdviceWording } from "../../kernel/advice.ts";
import { DomainError, ServiceUnavailableError, type ErrorKind, type Violation } from "../../kernel/errors.ts";

export const STATUS_BY_KIND: Record<ErrorKind, number> = {
  validation: 400,
  forbidden_field: 422,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  unprocessable: 422,
  not_configured: 501,
  upstream: 502,
  unavailable: 503,
};

/** An error as every surface sees it before putting it in its own shape. */
export interface NormalizedError {
  status: number;
  code: string;
  message: string;
  hint?: string;
  param?: string;
  meta?: Record<string, unknown>;
  violations: Violation[];
  /** Where in the request the violations are: body, querystring, params, headers. */
  location: string;
}

interface AjvLikeError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/**
 * Turns anything a route can throw into one normalized error: domain errors
 * keep their code; Fastify's own (schema, JSON parse, body size, media type)
 * get stable codes and messages a client can act on; a database outage is
 * 503 service_unavailable wherever it surfaced; anything else is a 500 whose
 * message says nothing about internals. A domain error's advice becomes the
 * hint in the surface's words (`wordAdvice`); without them, no hint.
 */
export function normalizeError(thrown: unknown, wordAdvice?: AdviceWording): NormalizedError {
  const err = isDatabaseUnavailable(thrown) ? new ServiceUnavailableError() : thrown;
  if (err instanceof DomainError) {
    return {
      status: STATUS_BY_KIND[err.kind],
      code: err.code,
      message: err.message,
      hint: err.details.hint ?? (err.details.advice && wordAdvice ? wordAdvice(err.details.advice) : undefined),
      param: err.details.param,
      meta: err.details.meta,
      violations: err.details.violations ?? (err.details.param ? [{ param: err.details.param, message: err.message }] : []),
      location: "body",
    };
  }
  const fe = err as FastifyError & { validation?: AjvLikeError[]; validationContext?: string };
  if (fe.validation) {
    const location = fe.validationContext ?? "body";
    const violations = fe.validation.map((v) => ajvViolation(v, location));
    const first = violations[0] ?? { param: location, message: "The request is invalid." };
    return { status: 400, code: "validation_failed", message: first.message, param: first.param, violations, location };
  }
  const simple = (status: number, code: string, message: string, hint?: string): NormalizedError => ({
    status,
    code,
    message,
    hint,
    violations: [],
    location: "body",
  });
  switch (fe.code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return simple(400, "invalid_json", "The request body is not valid JSON.", "Send a JSON object with Content-Type: application/json.");
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return simple(413, "body_too_large", "The request body is too large.", "Bodies are limited to PATCHBAY_BODY_LIMIT_BYTES (1 MiB by default).");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return simple(415, "unsupported_media_type", "The request body must be application/json.", "Set Content-Type: application/json.");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return simple(400, "invalid_content_length", "The Content-Length header does not match the body.");
    case "FST_ERR_NOT_FOUND":
      return simple(404, "route_not_found", fe.message, "See /docs or /openapi.json for the API.");
    case "FST_ERR_METHOD_NOT_ALLOWED":
      return simple(405, "method_not_allowed", fe.message, "The Allow header lists the methods this path takes.");
    case "FST_ERR_BAD_URL":
      return simple(400, "invalid_url", "The URL is not valid: a part of its path is not well-formed percent-encoded UTF-8.", "Percent-encode each path segment as UTF-8 (encodeURIComponent).");
    case "FST_ERR_MAX_PARAM_LENGTH":
      return simple(414, "path_parameter_too_long", "A path parameter is longer than any valid value (at most 100 characters).", "Check the id in the URL.");
    // Node's HTTP parser refused the request before it reached a route (see clientErrorHandler in app.ts).
    case "HPE_HEADER_OVERFLOW":
      return simple(431, "headers_too_large", "The request headers are too large.", "Send at most 16 KiB of headers.");
    case "HPE_UNEXPECTED_CONTENT_LENGTH":
      return simple(400, "malformed_request", "The request has both Content-Length and Transfer-Encoding.", "Send one of the two.");
    case "HPE_INVALID_HEADER_TOKEN":
    case "HPE_INVALID_HEADER_VALUE":
      return simple(400, "invalid_header", "A request header holds a character that is not allowed (a control character or a bad name).", "Header values are printable text.");
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return simple(408, "request_timeout", "The request did not arrive in time.");
  }
  if (typeof fe.code === "string" && fe.code.startsWith("HPE_")) {
    return simple(400, "malformed_request", "The request is not well-formed HTTP/1.1.");
  }
  if (fe.code === "22021" || fe.code === "22P05") {
    // The database refused a character (U+0000 somewhere validation did not look); the transaction rolled back.
    return simple(400, "invalid_characters", "The request contains a character that cannot be stored (U+0000).", "Remove NUL characters from the request.");
  }
  if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
    return simple(fe.statusCode, "bad_request", "The request could not be processed.");
  }
  return simple(500, "internal_error", "Something went wrong on our side; the request_id identifies it in the server log.");
}

function ajvViolation(v: AjvLikeError, location: string): Violation {
  const path = v.instancePath.split("/").filter(Boolean).map(decodePointer);
  if (v.keyword === "additionalProperty" || v.keyword === "additionalProperties") {
    const field = [...path, String(v.params.additionalProperty)].join(".");
    return {
      param: field,
      code: "unknown_field",
      message: location === "body" ? `"${field}" is not an accepted field.` : `"${field}" is not an accepted ${location} parameter.`,
    };
  }
  if (v.keyword === "required") {
    const field = [...path, String(v.params.missingProperty)].join(".");
    return { param: field, code: "required", message: `"${field}" is required.` };
  }
  const field = path.join(".") || location;
  if (v.keyword === "enum") {
    const allowed = (v.params.allowedValues as unknown[]).join(", ");
    return { param: field, code: "invalid", message: `"${field}" must be one of: ${allowed}.` };
  }
  if (v.keyword === "type") {
    return { param: field, code: "invalid_type", message: `"${field}" must be of type ${String(v.params.type).replace(",", " or ")}.` };
  }
  return { param: field, code: "invalid", message: `"${field}" ${v.message ?? "is invalid"}.` };
}

function decodePointer(segment: string): string {
  return segment.replace(/~1/g, "/").replace(/~0/g, "~");
}
