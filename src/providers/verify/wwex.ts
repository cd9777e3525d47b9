import { oauthToken, type CredentialCheck } from "./check.ts";

/**
 * Worldwide Express: an OAuth client-credentials token, POST /oauth/token.
 * WWEX publishes its API to account holders only; the path is the
 * conventional token endpoint and may need PATCHBAY_PROVIDER_URL_WWEX.
 */
export const wwex: CredentialCheck = {
  provider: "wwex",
  endpoint: "POST /oauth/token",
  request: (c) => ({
    method: "POST",
    path: "/oauth/token",
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: c.client_id!, client_secret: c.client_secret! }),
    retry: true,
  }),
  classify(res) {
    return oauthToken(res, this.endpoint);
  },
};
