import { basicAuth, type CredentialCheck } from "./check.ts";

/** PrintNode: GET /whoami with the API key as the Basic user name (the account behind the key). */
export const printnode: CredentialCheck = {
  provider: "printnode",
  endpoint: "GET /whoami",
  request: (c) => ({ method: "GET", path: "/whoami", headers: { authorization: basicAuth(c.api_key!, "") } }),
};
