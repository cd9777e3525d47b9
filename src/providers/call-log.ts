import type { ProviderCallPurpose } from "../db/schema.ts";

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
}

/** Query parameter names whose values are secrets wherever they appear. */
const SECRET_PARAM = /(key|token|secret|password|passwd|signature|sig|code|credential|auth)/i;

/**
 * The path as the log keeps it: every value of a query parameter that is a
 * recipe's own (`owned`) or looks like a secret by its name is replaced.
 */
export function redactQuery(pathWithQuery: string, owned: readonly string[] = []): string {
  const q = pathWithQuery.indexOf("?");
  if (q < 0) return pathWithQuery;
  const params = new URLSearchParams(pathWithQuery.slice(q + 1));
  const kept = [...params].map(([k, v]) => [k, owned.includes(k) || SECRET_PARAM.test(k) ? "[redacted]" : v]);
  return `${pathWithQuery.slice(0, q)}?${new URLSearchParams(kept).toString().replaceAll("%5Bredacted%5D", "[redacted]")}`;
}

/** Where the provider client writes each finished call (services/provider-calls.ts stores them). */
export interface CallRecorder {
  record(ctx: CallContext, outcome: CallOutcome): void | Promise<void>;
}
