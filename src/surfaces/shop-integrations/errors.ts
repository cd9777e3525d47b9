import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { DomainError, ValidationError, type Violation } from "../../kernel/errors.ts";
import type { ShopIntegrationPatch } from "../../services/shop-integrations.ts";
import { normalizeError, type NormalizedError } from "../shared/http-errors.ts";
import { FIELD_RULES } from "./schemas.ts";

/** One entry of the JSON:API error document `{errors: [...]}` (seed 004). */
export interface JsonApiError {
  status: string;
  code: string;
  title: string;
  detail: string;
  source?: { pointer: string } | { parameter: string };
}

const TITLES: Record<string, string> = {
  invalid: "Invalid",
  unknown_field: "Unknown field",
  authentication_failed: "Authentication failed",
  insufficient_scope: "Insufficient scope",
  live_mode_forbidden: "Live mode forbidden",
  not_found: "Not found",
  invalid_json: "Invalid JSON",
  body_too_large: "Body too large",
  unsupported_media_type: "Unsupported media type",
  service_unavailable: "Service unavailable",
};

const STATUS_TITLES: Record<number, string> = {
  400: "Bad request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not found",
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

function titleOf(code: string, status: number): string {
  return TITLES[code] ?? STATUS_TITLES[status] ?? (status >= 500 ? "Internal server error" : "Error");
}

function sourceOf(v: Violation, location: string): JsonApiError["source"] {
  if (location !== "body") return { parameter: v.param };
  const path = v.param === "" ? [] : v.param.split(".");
  return { pointer: path.map((p) => `/${p.replace(/~/g, "~0").replace(/\//g, "~1")}`).join("") };
}

function violationError(v: Violation, location: string): JsonApiError {
  const code = v.code === "unknown_field" ? "unknown_field" : "invalid";
  const error: JsonApiError = { status: "400", code, title: titleOf(code, 400), detail: v.message };
  if (!SOURCELESS.has(v.code ?? "")) error.source = sourceOf(v, location);
  return error;
}

/** A validator finding, reworded to the field's rule (see FIELD_RULES); unknown fields keep their own text. */
function reworded(v: Violation): Violation {
  if (v.code === "unknown_field") return v;
  const rule = FIELD_RULES[v.param.split(".")[0] ?? ""];
  return rule ? { ...v, message: rule } : v;
}

/** Several validator findings on one field (say format and pattern) are one broken rule: keep the first. */
function onePerField(violations: Violation[]): Violation[] {
  const byField = new Map<string, Violation>();
  for (const v of violations) if (!byField.has(v.param)) byField.set(v.param, v);
  return [...byField.values()];
}

/** Any error as the JSON:API document of this surface. */
export function jsonApiErrors(err: unknown): { status: number; errors: JsonApiError[] } {
  const e: NormalizedError = normalizeError(err);
  if (e.status === 400 && e.violations.length > 0) {
    const violations = err instanceof DomainError ? e.violations : onePerField(e.violations.map(reworded));
    // A domain error names a path or query parameter with meta.in; otherwise its violations are body fields.
    const location = typeof e.meta?.in === "string" ? e.meta.in : e.location;
    return { status: 400, errors: violations.map((v) => violationError(v, location)) };
  }
  const code = e.status === 404 ? "not_found" : e.code;
  return { status: e.status, errors: [{ status: String(e.status), code, title: titleOf(code, e.status), detail: e.message }] };
}

export function sendJsonApiError(request: FastifyRequest, reply: FastifyReply, err: unknown) {
  const { status, errors } = jsonApiErrors(err);
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
    throw ValidationError.of([{ param: "", code: "invalid", message: "The request body must be a JSON object" }]);
  }
  if (!validationError) return { patch: body as ShopIntegrationPatch, rejected: [] };
  const rejected = onePerField(normalizeError(validationError).violations.map(reworded));
  const badFields = new Set(rejected.map((v) => v.param.split(".")[0]));
  const patch = Object.fromEntries(Object.entries(body).filter(([field]) => !badFields.has(field))) as ShopIntegrationPatch;
  return { patch, rejected };
}
