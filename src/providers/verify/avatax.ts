import { basicAuth, byStatus, refused, type CredentialCheck } from "./check.ts";

/**
 * AvaTax: GET /api/v2/utilities/ping with Basic account_id:license_key.
 * Ping answers 200 even to bad credentials; `authenticated` carries the verdict.
 */
export const avatax: CredentialCheck = {
  provider: "avatax",
  endpoint: "GET /api/v2/utilities/ping",
  request: (c) => ({
    method: "GET",
    path: "/api/v2/utilities/ping",
    headers: { authorization: basicAuth(c.account_id!, c.license_key!) },
  }),
  classify(res) {
    if (res.status !== 200) return byStatus(res, this.endpoint);
    let authenticated = false;
    try {
      authenticated = (res.json() as { authenticated?: unknown }).authenticated === true;
    } catch {
      authenticated = false;
    }
    return authenticated ? { status: "ok", error: null } : refused(this.endpoint, 200, "authenticated: false");
  },
};
