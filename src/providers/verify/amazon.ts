import { oauthToken, type CredentialCheck } from "./check.ts";

/**
 * Amazon SP-API: a Login with Amazon access token from the stored refresh
 * token, POST /auth/o2/token on api.amazon.com (provider "amazon_lwa",
 * overridable as PATCHBAY_PROVIDER_URL_AMAZON_LWA). LWA refresh tokens do
 * not rotate, so checking one does not spend it.
 */
export const amazon: CredentialCheck = {
  provider: "amazon_lwa",
  endpoint: "POST /auth/o2/token (grant_type=refresh_token)",
  request: (c) => ({
    method: "POST",
    path: "/auth/o2/token",
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: c.refresh_token!, client_id: c.lwa_client_id!, client_secret: c.lwa_client_secret! }),
    retry: true,
  }),
  classify(res) {
    return oauthToken(res, this.endpoint);
  },
};
