import type { ProviderCallPurpose } from "../db/schema.ts";
import { isSecretParam } from "../kernel/secret-params.ts";

/** Which connector an outbound call is made for, and why: what the provider client needs to log it. */
export interface CallContext {
  entityId: string;
  connectorId: string;
  connectorType: string;
  purpose: ProviderCallPurpose;
  /** The Patchbay request that caused the call; null for background jobs. */
  requestId?: string | null;
}

/** One finished outbound call, as the client measured it. */
export interface CallOutcome {
  method: string;
  /** The provider path with its query (values redacted by redactQuery). */
  path: string;
  status: number | null;
  latencyMs: number;
  bytesSent: number;
  bytesReceived: number;
  errorClass: string | null;
  /**
   * A failed call's exchange (no answer, or a status of 400 or more), for the
   * shop integrations' exception log (services/integration-logs.ts). Built by
   * failedCallDetail: already redacted.
   */
  detail?: CallDetail;
}

/** What the exception log keeps of a failed call: never a secret, never the request body. */
export interface CallDetail {
  /** Origin and path with query, secret query values redacted. */
  url: string;
  requestHeaders: Record<string, string>;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
}

/** Header values kept as sent or received; every other value is [redacted]. */
const PLAIN_REQUEST_HEADERS = new Set(["accept", "accept-encoding", "content-type", "content-length", "user-agent"]);
const PLAIN_RESPONSE_HEADERS = new Set([
  "cache-control", "connection", "content-length", "content-type", "date", "retry-after", "request-id", "x-request-id", "x-amzn-requestid", "x-shopify-api-version",
]);
/** JSON keys whose values are secrets wherever they appear in a response body. */
const SECRET_KEY = /(token|secret|password|passwd|api[_-]?key|access[_-]?key|private[_-]?key|^key$|^code$|hmac|credential|authorization|signature|^sig$|cookie)/i;
/** The longest response body the exception log keeps. */
export const LOGGED_BODY_CHARS = 2048;

function redactHeaders(headers: Iterable<[string, string]>, plain: Set<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of headers) out[k.toLowerCase()] = plain.has(k.toLowerCase()) ? v : "[redacted]";
  return out;
}

function redactJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactJson);
  if (value === null || typeof value !== "object") return value;
  // A secret-named field loses its whole value, whatever its type (a list of tokens, an object of keys).
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) && v !== null ? "[redacted]" : redactJson(v)]));
}

/**
 * A failed call as the exception log keeps it. Header values outside an
 * allowlist are replaced; the response body is cut to LOGGED_BODY_CHARS, a
 * JSON body's secret-named values are replaced, and every value the request
 * carried in a redacted header or its body (`sent`) is replaced wherever the
 * body echoes it.
 */
export function failedCallDetail(
  url: string,
  requestHeaders: Iterable<[string, string]>,
  response: { headers: Iterable<[string, string]>; text: string | null } | null,
  sent: readonly string[] = [],
): CallDetail {
  const secrets = new Set<string>();
  for (const [k, v] of requestHeaders) {
    if (PLAIN_REQUEST_HEADERS.has(k.toLowerCase())) continue;
    secrets.add(v);
    for (const part of v.split(/[\s,;=:]+/)) secrets.add(part);
  }
  for (const v of sent) secrets.add(v);
  let body = response?.text ?? null;
  if (body !== null) {
    try {
      body = JSON.stringify(redactJson(JSON.parse(body)));
    } catch {
      // Not JSON: kept as text, echoed secrets replaced below.
    }
    for (const secret of [...secrets].filter((x) => x.length >= 6).sort((a, b) => b.length - a.length)) body = body.split(secret).join("[redacted]");
    if (body.length > LOGGED_BODY_CHARS) body = `${body.slice(0, LOGGED_BODY_CHARS)}…`;
  }
  return {
    url,
    requestHeaders: redactHeaders(requestHeaders, PLAIN_REQUEST_HEADERS),
    responseHeaders: response ? redactHeaders(response.headers, PLAIN_RESPONSE_HEADERS) : null,
    responseBody: body,
  };
}

/** Query parameter names whose values are secrets wherever they appear. */

/**
 * The path as the log keeps it: every value of a query parameter that is a
 * recipe's own (`owned`) or a secret by its name (kernel/secret-params.ts) is replaced.
 */
export function redactQuery(pathWithQuery: string, owned: readonly string[] = []): string {
  const q = pathWithQuery.indexOf("?");
  if (q < 0) return pathWithQuery;
  const params = new URLSearchParams(pathWithQuery.slice(q + 1));
  const kept = [...params].map(([k, v]) => [k, owned.includes(k) || isSecretParam(k) ? "[redacted]" : v]);
  return `${pathWithQuery.slice(0, q)}?${new URLSearchParams(kept).toString().replaceAll("%5Bredacted%5D", "[redacted]")}`;
}

/** Where the provider client writes each finished call (services/provider-calls.ts stores them). */
export interface CallRecorder {
  record(ctx: CallContext, outcome: CallOutcome): void | Promise<void>;
}
