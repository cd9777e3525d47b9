import { clientCredentialsCheck } from "./check.ts";

/** USPS: an OAuth client-credentials token, POST /oauth2/v3/token. */
export const usps = clientCredentialsCheck("usps", "/oauth2/v3/token");
