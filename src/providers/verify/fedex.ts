import { oauthToken, type CredentialCheck } from "./check.ts";

/** FedEx: an OAuth client-credentials token, POST /oauth/token (client_id and client_secret in the form). */
export const fedex: CredentialCheck = {
  provider: "fedex",
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
