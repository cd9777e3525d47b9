import type { CredentialCheck } from "./check.ts";

/** Postmark: GET /server with X-Postmark-Server-Token (the server the token belongs to). */
export const postmark: CredentialCheck = {
  provider: "postmark",
  endpoint: "GET /server",
  request: (c) => ({ method: "GET", path: "/server", headers: { "x-postmark-server-token": c.server_token! } }),
};
