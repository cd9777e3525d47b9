import { byStatus, errorField, refused, type CredentialCheck } from "./check.ts";

/**
 * Plaid: POST /institutions/get for one institution, with client_id and
 * secret in the body. Bad keys answer 400 with error_code INVALID_API_KEYS
 * (or UNAUTHORIZED_ENVIRONMENT for a sandbox secret on production).
 */
export const plaid: CredentialCheck = {
  provider: "plaid",
  endpoint: "POST /institutions/get",
  request: (c) => ({
    method: "POST",
    path: "/institutions/get",
    body: { client_id: c.client_id, secret: c.secret, count: 1, offset: 0, country_codes: ["US"] },
    // A read: safe to retry.
    retry: true,
  }),
  classify(res) {
    const code = errorField(res, "error_code");
    if (res.status === 400 && (code === "INVALID_API_KEYS" || code === "UNAUTHORIZED_ENVIRONMENT")) return refused(this.endpoint, 400, code);
    return byStatus(res, this.endpoint);
  },
};
