/**
 * Domain errors: values with a code. Services throw them; each surface's
 * errors.ts maps `kind` to its own status and body. No HTTP in here.
 */
import type { Advice } from "./advice.ts";

export type ErrorKind =
  | "validation" // the input breaks a rule
  | "forbidden_field" // the input carries a field that must never be sent
  | "unauthenticated" // no or bad credentials
  | "forbidden" // authenticated, not allowed
  | "not_found"
  | "conflict" // the current state forbids it
  | "rate_limited"
  | "unprocessable" // well-formed, but a value is not acceptable (seed 001: a bad shop domain)
  | "not_configured" // the operator has not configured what this needs
  | "upstream" // a provider Patchbay depends on failed or could not be reached
  | "unavailable"; // Patchbay's own database cannot be reached: try again shortly

export interface ErrorDetails {
  hint?: string;
  /** What to do, as facts: each surface words it for its own routes (a hint, if set, wins). */
  advice?: Advice;
  /** The offending input field, dotted (`config.currency`). */
  param?: string;
  /** Extra, non-secret, machine-readable facts (`required` scope, `retry_after`). */
  meta?: Record<string, unknown>;
  /** Every violated rule, for surfaces that list them all. */
  violations?: Violation[];
}

/** A hint in words (no route in it), or advice a surface words for its own routes. */
export type Hint = string | Advice;

export function hintDetails(hint: Hint | undefined): Pick<ErrorDetails, "hint" | "advice"> {
  if (hint === undefined) return {};
  return typeof hint === "string" ? { hint } : { advice: hint };
}

export interface Violation {
  param: string;
  message: string;
  code?: string;
}

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
    this.name = "DomainError";
  }
}

export class ValidationError extends DomainError {
  constructor(message: string, details: ErrorDetails = {}, code = "validation_failed") {
    super("validation", code, message, details);
  }
  static of(violations: Violation[], hint?: Hint): ValidationError {
    const first = violations[0]!;
    return new ValidationError(first.message, { param: first.param, violations, ...hintDetails(hint) }, first.code ?? "validation_failed");
  }
}

export class ForbiddenFieldError extends DomainError {
  constructor(field: string, hint: Hint) {
    super("forbidden_field", "forbidden_field", `The field "${field}" may not be sent in this request.`, { param: field, ...hintDetails(hint) });
  }
}

export class NotFoundError extends DomainError {
  constructor(code: string, message: string, hint?: Hint) {
    super("not_found", code, message, hintDetails(hint));
  }
}

export class ConflictError extends DomainError {
  constructor(code: string, message: string, hint?: Hint, meta?: Record<string, unknown>) {
    super("conflict", code, message, { ...hintDetails(hint), meta });
  }
}

export class AuthenticationError extends DomainError {
  constructor(code: string, message: string, hint?: string) {
    super("unauthenticated", code, message, { hint });
  }
}

export class PermissionError extends DomainError {
  constructor(code: string, message: string, details: ErrorDetails = {}) {
    super("forbidden", code, message, details);
  }
}

export class NotConfiguredError extends DomainError {
  constructor(code: string, message: string, hint: string) {
    super("not_configured", code, message, { hint });
  }
}

export class UnprocessableError extends DomainError {
  constructor(code: string, message: string, details: ErrorDetails = {}) {
    super("unprocessable", code, message, details);
  }
}

/** A provider failed us (unreachable, timed out, 5xx); the message names the provider, never a URL or secret. */
export class UpstreamError extends DomainError {
  constructor(code: string, message: string, hint?: Hint) {
    super("upstream", code, message, hintDetails(hint));
  }
}

export class RateLimitError extends DomainError {
  constructor(retryAfterSeconds: number, limit: { perMinute: number; burst: number }) {
    // The 429 body of docs.arcuserp.com/concepts/rate-limits; the key's limit is in X-RateLimit-Limit.
    super("rate_limited", "rate_limit_exceeded", `Rate limit exceeded. Retry after ${retryAfterSeconds} seconds.`, {
      meta: { retry_after: retryAfterSeconds, per_minute: limit.perMinute, burst: limit.burst },
    });
  }
}

/** How long a client is told to wait (Retry-After) while the database is unreachable. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 2;

/**
 * The database cannot be reached (refused, terminated, shut down, no
 * connection free within the bound, the embedded database failed). Nothing
 * was done; the same request may simply be sent again.
 */
export class ServiceUnavailableError extends DomainError {
  constructor() {
    super("unavailable", "service_unavailable", "The service is temporarily unavailable: its database cannot be reached.", {
      hint: `Nothing was changed. Retry after ${UNAVAILABLE_RETRY_AFTER_SECONDS} s (Retry-After); service resumes by itself once the database is back.`,
      meta: { retry_after: UNAVAILABLE_RETRY_AFTER_SECONDS },
    });
  }
}

/** This process is shutting down (SIGTERM): requests in flight finish, new ones are sent elsewhere. */
export class ShuttingDownError extends DomainError {
  constructor() {
    super("unavailable", "shutting_down", "This server is shutting down.", {
      hint: "Nothing was changed. Retry in a moment: another process, or this one once restarted, will answer.",
      meta: { retry_after: 1 },
    });
  }
}

/** The client address failed authentication too often: refused before its credential is looked at. */
export class AuthThrottledError extends DomainError {
  constructor(retryAfterSeconds: number, failuresPerMinute: number) {
    super("rate_limited", "too_many_failed_authentications", `Too many failed authentications from this address: at most ${failuresPerMinute} a minute.`, {
      hint: `Retry after ${retryAfterSeconds} s (Retry-After), with a valid credential. Until then every request from this address is refused, whatever it sends.`,
      meta: { retry_after: retryAfterSeconds },
    });
  }
}
