import type { ProviderRequest, ProviderResponse } from "../client.ts";

/** What a credential check concludes; the sync_status it records. */
export type CheckStatus = "ok" | "auth_failed" | "unreachable";

export interface CheckResult {
  status: CheckStatus;
  /** Why, for sync_error: Patchbay's own words, never the provider's body (it may echo a key). */
  error: string | null;
}

/**
 * One provider's credential check: a cheap, read-only call that succeeds
 * only with working credentials. `endpoint` documents which call it is.
 */
export interface CredentialCheck {
  /** The provider name the client resolves the base URL of (PATCHBAY_PROVIDER_URL_<NAME>). */
  provider: string;
  endpoint: string;
  request(credentials: Record<string, string>): ProviderRequest;
  /** Reads the answer; the default is byStatus. */
  classify?(res: ProviderResponse): CheckResult;
}

export const OK: CheckResult = { status: "ok", error: null };

/** 2xx: the credentials work; 401/403: refused; anything else: no verdict. */
export function byStatus(res: Pick<ProviderResponse, "status">, endpoint: string): CheckResult {
  if (res.status >= 200 && res.status < 300) return OK;
  if (res.status === 401 || res.status === 403) return refused(endpoint, res.status);
  return unexpected(endpoint, res.status);
}

/**
 * An OAuth 2.0 token endpoint (RFC 6749 §5.2): 200 issues a token; a 401,
 * or a 400 with `invalid_client` / `invalid_grant` / `unauthorized_client`,
 * refuses the credentials.
 */
export function oauthToken(res: ProviderResponse, endpoint: string): CheckResult {
  if (res.status === 400) {
    const code = errorField(res, "error");
    if (code === "invalid_client" || code === "invalid_grant" || code === "unauthorized_client") return refused(endpoint, res.status, code);
  }
  return byStatus(res, endpoint);
}

/**
 * A check that asks for an OAuth client-credentials token at `path`, the
 * client id and secret in the form (FedEx, USPS, WWEX): the cheapest call
 * that proves the pair.
 */
export function clientCredentialsCheck(provider: string, path: string): CredentialCheck {
  const endpoint = `POST ${path}`;
  return {
    provider,
    endpoint,
    request: (c) => ({
      method: "POST",
      path,
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: c.client_id!, client_secret: c.client_secret! }),
      retry: true,
    }),
    classify: (res) => oauthToken(res, endpoint),
  };
}

export function refused(endpoint: string, status: number, reason?: string): CheckResult {
  return { status: "auth_failed", error: `The provider refused the credentials (HTTP ${status}${reason ? `, ${reason}` : ""}) at ${endpoint}.` };
}

export function unexpected(endpoint: string, status: number): CheckResult {
  return { status: "unreachable", error: `Unexpected answer (HTTP ${status}) from ${endpoint}; the credentials could not be checked.` };
}

/** A short, known-shape field of a JSON error body (codes only; never free text). */
export function errorField(res: ProviderResponse, field: string): string | null {
  try {
    const value = (res.json() as Record<string, unknown>)[field];
    return typeof value === "string" && /^[A-Za-z0-9_.-]{1,64}$/.test(value) ? value : null;
  } catch {
    return null;
  }
}

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}
