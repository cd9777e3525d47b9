/**
 * Whether an error means "the database cannot be reached" rather than "this
 * query is wrong": the one place that knows the drivers' words for an outage.
 * Each surface answers such an error 503 service_unavailable (see
 * normalizeError), the job runner retries without spending an attempt.
 */

/** Socket-level failures reaching the server (or losing it). */
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

/**
 * SQLSTATEs of an outage: class 08 (connection exception), 57P01–57P03
 * (the server is shutting down, crashed, or not accepting connections yet)
 * and 53300 (no connection slot free).
 */
function isOutageSqlState(code: string): boolean {
  return code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03" || code === "53300";
}

/** What node-postgres and pg-pool say, without a code, when a connection is lost, cannot be had in time, or the pool is closing. */
const DRIVER_MESSAGES = [
  /^Connection terminated/, // "… unexpectedly", "… due to connection timeout"
  /^timeout exceeded when trying to connect/,
  /is not queryable$/, // a client whose connection already failed
  /^Cannot use a pool after calling end on the pool/,
];

/** The embedded database (PGlite) failed or was closed: raised by the PGlite dialect, never by a bad query. */
export class EmbeddedDatabaseFailure extends Error {
  constructor(cause: unknown) {
    super(`the embedded database failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "EmbeddedDatabaseFailure";
  }
}

export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof EmbeddedDatabaseFailure) return true;
  if (!(err instanceof Error)) return false;
  // Node reports a refused dual-stack connect (localhost → ::1 and 127.0.0.1) as one AggregateError.
  if (err instanceof AggregateError && err.errors.some(isDatabaseUnavailable)) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && (NETWORK_CODES.has(code) || (/^[0-9A-Z]{5}$/.test(code) && isOutageSqlState(code)))) return true;
  return DRIVER_MESSAGES.some((m) => m.test(err.message));
}
