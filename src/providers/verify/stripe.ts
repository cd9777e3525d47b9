import type { CredentialCheck } from "./check.ts";

/** Stripe: GET /v1/account with the secret key (reads the account; restricted keys need "Account: read"). */
export const stripe: CredentialCheck = {
  provider: "stripe",
  endpoint: "GET /v1/account",
  request: (c) => ({ method: "GET", path: "/v1/account", headers: { authorization: `Bearer ${c.secret_key}` } }),
};
