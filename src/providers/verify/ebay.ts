import { basicAuth, oauthToken, type CredentialCheck } from "./check.ts";

/**
 * eBay: a user access token from the stored refresh token, POST
 * /identity/v1/oauth2/token (Basic client_id:client_secret) with the basic
 * api_scope. eBay refresh tokens do not rotate, so checking does not spend one.
 */
export const ebay: CredentialCheck = {
  provider: "ebay",
  endpoint: "POST /identity/v1/oauth2/token (grant_type=refresh_token)",
  request: (c) => ({
    method: "POST",
    path: "/identity/v1/oauth2/token",
    headers: { authorization: basicAuth(c.client_id!, c.client_secret!) },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: c.refresh_token!, scope: "https://api.ebay.com/oauth/api_scope" }),
    retry: true,
  }),
  classify(res) {
    return oauthToken(res, this.endpoint);
  },
};
