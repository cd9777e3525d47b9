import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { DomainError, ValidationError, type Violation } from "../../kernel/errors.ts";
import type { ShopIntegrationPatch } from "../../services/shop-integrations.ts";
import { normalizeError, type NormalizedError } from "../shared/http-errors.ts";
import { FIELD_RULES } from "./schemas.ts";

/**
 * One entry of the JSON:API error document `{errors: [...]}` (seed 004; the
 * Sendcloud v3 integrations spec's `ErrorObject`): `status` is the HTTP status
 * as a string (the schema's `type: string`), `id` names the error (the request
 * id, suffixed when there are several), `links.about` is the reference page of
 * the operation, `meta` carries what a client can act on (the limit, the choices,
 * the retry delay), `source` says where in the request the error is.
 */
export interface JsonApiError {
  id?: string;
  links?: { about: string };
  status: string;
  code: string;
  title: string;
  detail: string;
  source?: { pointer: string } | { parameter: string } | { header: string };
  meta?: Record<string, unknown>;
}

const TITLES: Record<string, string> = {
  invalid: "Invalid",
  unknown_field: "Unknown field",
  extra_forbidden: "Extra Forbidden",
  invalid_choice: "Invalid choice",
  min_value: "Min value",
  null: "Null",
  required: "Required",
  not_a_list: "Not a list",
  non_field_errors: "Wrong format",
  validation_error: "Validation error",
  authentication_failed: "Authentication failed",
  insufficient_scope: "Insufficient scope",
  live_mode_forbidden: "Live mode forbidden",
  not_found: "Not Found",
  invalid_json: "Invalid JSON",
  body_too_large: "Body too large",
  unsupported_media_type: "Unsupported media type",
  service_unavailable: "Service unavailable",
};

const STATUS_TITLES: Record<number, string> = {
  400: "Bad request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method not allowed",
  408: "Request timeout",
  409: "Conflict",
  414: "URI too long",
  429: "Too many requests",
  431: "Request header fields too large",
};

/**
 * Seed 004 prints the webhook rule's error with exactly status, code, title
 * and detail; it is answered exactly so, without a source.
 */
const SOURCELESS = new Set(["webhook_url_required"]);

/** The codes of the spec's ErrorObject enum (and its examples' extra_forbidden) that a violation may carry as is. */
const SPEC_CODES = new Set(["unknown_field", "invalid", "invalid_choice", "min_value", "null", "required", "not_a_list", "non_field_errors", "validation_error", "extra_forbidden"]);

/** Request headers an error can be about (source.header). */
const HEADER_PARAMS = new Set(["idempotency-key", "authorization", "content-type"]);

/**
 * The reference page of each operation (the spec's x-mint href on sendcloud.dev), for links.about.
 * Keyed by method and route pattern as Fastify names it.
 */
const ABOUT: Record<string, string> = {
  "GET /api/v3/integrations": "/api/v3/integrations/retrieve-a-list-of-integrations",
  "GET /api/v3/integrations/:id": "/api/v3/integrations/retrieve-an-integration",
  "PATCH /api/v3/integrations/:id": "/api/v3/integrations/update-certain-parts-of-an-integration",
  "DELETE /api/v3/integrations/:id": "/api/v3/integrations/delete-an-integration",
  "GET /api/v3/integrations/logs": "/api/v3/integrations/retrieve-all-integration-exception-logs",
  "GET /api/v3/integrations/:id/logs": "/api/v3/integrations/retrieve-exception-logs-for-a-specific-integration",
  "POST /api/v3/integrations/:id/logs": "/api/v3/integrations/create-integration-exception-logs",
};
export const REFERENCE_ORIGIN = "https://sendcloud.dev";

/**
 * Routes whose body errors follow the pydantic flavour of the spec's example
 * (POST …/logs: `extra_forbidden`, "Extra inputs are not permitted",
 * `source.pointer: "body/unknown_field"`); the others follow seed 004's
 * (`unknown_field`, JSON Pointers such as `/webhook_url`).
 */
const PYDANTIC_ROUTES = new Set(["POST /api/v3/integrations/:id/logs"]);

/** The Sendcloud spec's 401 answers: detail → title. */
export const NO_CREDENTIALS = "Authentication credentials were not provided.";
export const INVALID_CREDENTIALS = "The username or password provided is incorrect. Please make a request with the valid credentials.";
const AUTH_TITLES: Record<string, string> = { [NO_CREDENTIALS]: "No credentials", [INVALID_CREDENTIALS]: "Invalid username/password." };

/** What the error's request was, when known: for id, links.about, the body flavour and null detection. */
export interface ErrorContext {
  requestId?: string;
  /** `METHOD /route/:pattern` */
  route?: string;
  body?: unknown;
}

function titleOf(code: string, status: number): string {
  return TITLES[code] ?? STATUS_TITLES[status] ?? (status >= 500 ? "Internal server error" : "Error");
}

function sourceOf(v: Violation, location: string, pydantic: boolean): JsonApiError["source"] {
  if (HEADER_PARAMS.has(v.param.toLowerCase())) return { header: v.param };
  if (location === "headers") return { header: v.param };
  if (location !== "body") return { parameter: v.param };
  const path = v.param === "" ? [] : v.param.split(".");
  if (pydantic) return { pointer: ["body", ...path].join("/") };
  return { pointer: path.map((p) => `/${p.replace(/~/g, "~0").replace(/\//g, "~1")}`).join("") };
}

/** A violation carries its spec code (set by specViolations); anything else of Patchbay's own is `invalid`. */
function violationError(v: Violation & { meta?: Record<string, unknown> }, location: string, pydantic: boolean): JsonApiError {
  const code = v.code !== undefined && SPEC_CODES.has(v.code) ? v.code : "invalid";
  const error: JsonApiError = { status: "400", code, title: titleOf(code, 400), detail: v.message };
  if (!SOURCELESS.has(v.code ?? "")) error.source = sourceOf(v, location, pydantic);
  if (v.meta) error.meta = v.meta;
  return error;
}

interface AjvLikeError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

function valueAt(root: unknown, instancePath: string): unknown {
  let v = root;
  for (const seg of instancePath.split("/").filter(Boolean)) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[seg.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  return v;
}

/**
 * The spec's code for one validator finding: additionalProperties →
 * unknown_field (extra_forbidden on pydantic routes), required → required,
 * minimum → min_value, enum → invalid_choice, a list expected → not_a_list,
 * null where it is not allowed → null; anything else invalid
 * (validation_error on pydantic routes). `meta` carries the limit or the choices.
 */
function specCode(e: AjvLikeError, body: unknown, pydantic: boolean): { code: string; meta?: Record<string, unknown>; detail?: string } {
  // The body itself is not an object: the spec's "Wrong request format, expected object".
  if (e.instancePath === "" && e.keyword === "type") return { code: "non_field_errors", detail: "Wrong request format, expected object" };
  switch (e.keyword) {
    case "additionalProperties":
      return pydantic ? { code: "extra_forbidden", detail: "Extra inputs are not permitted" } : { code: "unknown_field" };
    case "required":
      return { code: "required" };
    case "minimum":
    case "exclusiveMinimum":
      return { code: "min_value", meta: { min_value: e.params.limit } };
    case "maximum":
    case "exclusiveMaximum":
      return { code: pydantic ? "validation_error" : "invalid", meta: { max_value: e.params.limit } };
    case "enum":
      return { code: "invalid_choice", meta: { choices: e.params.allowedValues } };
    case "type": {
      const expected = String(e.params.type);
      if (valueAt(body, e.instancePath) === null) return { code: "null" };
      if (expected.split(",").includes("array")) return { code: "not_a_list" };
      return { code: pydantic ? "validation_error" : "invalid" };
    }
    default:
      return { code: pydantic ? "validation_error" : "invalid" };
  }
}

/** A Fastify validation error's violations, each with its spec code (and meta). */
export function specViolations(err: unknown, body: unknown, pydantic = false): (Violation & { meta?: Record<string, unknown> })[] {
  const raw = (err as { validation?: AjvLikeError[] }).validation ?? [];
  const normalized = normalizeError(err).violations;
  return normalized.map((v, i) => {
    const e = raw[i];
    if (!e) return v;
    const { code, meta, detail } = specCode(e, body, pydantic);
    return { ...v, code, ...(detail ? { message: detail } : {}), ...(meta ? { meta } : {}) };
  });
}

/** A validator finding, reworded to the field's rule (see FIELD_RULES); unknown fields keep their own text. */
function reworded<V extends Violation>(v: V): V {
  if (v.code === "unknown_field" || v.code === "extra_forbidden") return v;
  const rule = FIELD_RULES[v.param.split(".")[0] ?? ""];
  return rule ? { ...v, message: rule } : v;
}

/** Several validator findings on one field (say format and pattern) are one broken rule: keep the first. */
function onePerField<V extends Violation>(violations: V[]): V[] {
  const byField = new Map<string, V>();
  for (const v of violations) if (!byField.has(v.param)) byField.set(v.param, v);
  return [...byField.values()];
}

function withIdentity(errors: JsonApiError[], ctx: ErrorContext): JsonApiError[] {
  const about = ctx.route ? ABOUT[ctx.route] : undefined;
  return errors.map((e, i) => ({
    ...(ctx.requestId ? { id: errors.length > 1 ? `${ctx.requestId}-${i + 1}` : ctx.requestId } : {}),
    ...(about ? { links: { about: `${REFERENCE_ORIGIN}${about}` } } : {}),
    ...e,
  }));
}

/** Any error as the JSON:API document of this surface. */
export function jsonApiErrors(err: unknown, ctx: ErrorContext = {}): { status: number; errors: JsonApiError[] } {
  const e: NormalizedError = normalizeError(err);
  const pydantic = ctx.route !== undefined && PYDANTIC_ROUTES.has(ctx.route);
  if (e.status === 400 && e.violations.length > 0) {
    const violations = err instanceof DomainError ? e.violations : onePerField(specViolations(err, ctx.body, pydantic && e.location === "body").map(reworded));
    // A domain error names a path or query parameter with meta.in; otherwise its violations are body fields.
    const location = typeof e.meta?.in === "string" ? e.meta.in : e.location;
    const flavour = pydantic && location === "body";
    return { status: 400, errors: withIdentity(violations.map((v) => violationError(v, location, flavour)), ctx) };
  }
  if (e.status === 400 && e.code === "invalid_json") {
    // Django REST framework's answer to a body it cannot parse, as the spec's examples word a body of the wrong format.
    return { status: 400, errors: withIdentity([{ status: "400", code: "non_field_errors", title: titleOf("non_field_errors", 400), detail: e.message }], ctx) };
  }
  const code = e.status === 404 ? "not_found" : e.code;
  const error: JsonApiError = { status: String(e.status), code, title: titleOf(code, e.status), detail: e.message };
  if (e.status === 401) {
    error.source = { header: "Authorization" };
    if (AUTH_TITLES[e.message]) error.title = AUTH_TITLES[e.message]!;
  }
  if (e.status === 415) error.source = { header: "Content-Type" };
  if (typeof e.meta?.retry_after === "number") error.meta = { ...error.meta, retry_after: e.meta.retry_after };
  if (typeof e.meta?.required === "string") error.meta = { ...error.meta, required_scope: e.meta.required };
  return { status: e.status, errors: withIdentity([error], ctx) };
}

export function sendJsonApiError(request: FastifyRequest, reply: FastifyReply, err: unknown) {
  const route = request.routeOptions?.url ? `${request.method} ${request.routeOptions.url}` : undefined;
  const { status, errors } = jsonApiErrors(err, { requestId: request.id, route, body: request.body });
  if (status >= 500) request.log.error({ err }, "request failed");
  if (status === 401) reply.header("www-authenticate", 'Basic realm="patchbay", charset="UTF-8"');
  const retryAfter = normalizeError(err).meta?.retry_after;
  if (typeof retryAfter === "number") reply.header("retry-after", String(retryAfter));
  return reply.status(status).send({ errors });
}

/** Installs the JSON:API error shape for every error under this plugin (unknown routes: see errors-by-path.ts). */
export function useJsonApiErrors(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => sendJsonApiError(request, reply, err));
}

export function invalidIdError(): ValidationError {
  return new ValidationError(FIELD_RULES.id!, { param: "id", meta: { in: "path" } }, "invalid");
}

type AttachedValidationError = Error & { validation: unknown; validationContext: string };

/**
 * Splits a PATCH body validated with `attachValidation` into the well-formed
 * fields and the violations of the others, so that the service can check the
 * cross-field rules too and every broken rule is answered at once. A path
 * parameter error is thrown as is: there is no record to check against.
 */
export function splitPatchBody(body: unknown, validationError: AttachedValidationError | undefined): { patch: ShopIntegrationPatch; rejected: Violation[] } {
  if (validationError && validationError.validationContext !== "body") throw validationError;
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw ValidationError.of([{ param: "", code: "non_field_errors", message: "Wrong request format, expected object" }]);
  }
  if (!validationError) return { patch: body as ShopIntegrationPatch, rejected: [] };
  const rejected = onePerField(specViolations(validationError, body).map(reworded));
  const badFields = new Set(rejected.map((v) => v.param.split(".")[0]));
  const patch = Object.fromEntries(Object.entries(body).filter(([field]) => !badFields.has(field))) as ShopIntegrationPatch;
  return { patch, rejected };
}
