import type { CredentialCheck } from "./check.ts";

/** MapQuest: GET /geocoding/v1/address for one fixed location, one result (a bad key answers 401/403). */
export const mapquest: CredentialCheck = {
  provider: "mapquest",
  endpoint: "GET /geocoding/v1/address?location=Denver,CO&maxResults=1",
  request: (c) => ({ method: "GET", path: "/geocoding/v1/address", query: { key: c.api_key!, location: "Denver,CO", maxResults: "1" } }),
};
