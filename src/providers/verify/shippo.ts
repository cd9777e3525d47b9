import type { CredentialCheck } from "./check.ts";

/** Shippo: GET /addresses?results=1 with `ShippoToken <api_token>` (one page of one saved address). */
export const shippo: CredentialCheck = {
  provider: "shippo",
  endpoint: "GET /addresses?results=1",
  request: (c) => ({ method: "GET", path: "/addresses", query: { results: "1" }, headers: { authorization: `ShippoToken ${c.api_token}` } }),
};
