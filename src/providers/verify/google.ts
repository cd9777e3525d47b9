import { byStatus, errorField, refused, unexpected, type CredentialCheck } from "./check.ts";

/**
 * Google Maps Platform: GET /maps/api/geocode/json for one fixed address.
 * Google answers 200 either way; the body's `status` carries the verdict
 * (REQUEST_DENIED: bad, restricted or unbilled key).
 */
export const google: CredentialCheck = {
  provider: "google",
  endpoint: "GET /maps/api/geocode/json?address=Mountain+View,CA",
  request: (c) => ({ method: "GET", path: "/maps/api/geocode/json", query: { address: "Mountain View, CA", key: c.api_key! } }),
  classify(res) {
    if (res.status !== 200) return byStatus(res, this.endpoint);
    const status = errorField(res, "status");
    if (status === "OK" || status === "ZERO_RESULTS") return { status: "ok", error: null };
    if (status === "REQUEST_DENIED" || status === "OVER_DAILY_LIMIT") return refused(this.endpoint, 200, status);
    return unexpected(this.endpoint, 200);
  },
};
