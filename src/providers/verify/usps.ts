import { oauthToken, type CredentialCheck } from "./check.ts";

/** USPS: an OAuth client-credentials token, POST /oauth2/v3/token. */
export const usps: CredentialCheck = {
  provider: "usps",
  endpoint: "POST /oauth2/v3/token",
  request: (c) => ({
    method: "POST",
    path: "/oauth2/v3/token",
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: c.client_id!, client_secret: c.client_secret! }),
    retry: true,
  }),
  classify(res) {
    return oauthToken(res, this.endpoint);
  },
};
