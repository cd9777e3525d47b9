import { basicAuth, oauthToken, type CredentialCheck } from "./check.ts";

/** UPS: an OAuth client-credentials token, POST /security/v1/oauth/token (Basic client_id:client_secret, x-merchant-id: account number). */
export const ups: CredentialCheck = {
  provider: "ups",
  endpoint: "POST /security/v1/oauth/token",
  request: (c) => ({
    method: "POST",
    path: "/security/v1/oauth/token",
    headers: { authorization: basicAuth(c.client_id!, c.client_secret!), "x-merchant-id": c.account_number! },
    body: new URLSearchParams({ grant_type: "client_credentials" }),
    retry: true,
  }),
  classify(res) {
    return oauthToken(res, this.endpoint);
  },
};
