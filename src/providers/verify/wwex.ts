import { clientCredentialsCheck } from "./check.ts";

/**
 * Worldwide Express: an OAuth client-credentials token, POST /oauth/token.
 * WWEX publishes its API to account holders only; the path is the
 * conventional token endpoint and may need PATCHBAY_PROVIDER_URL_WWEX.
 */
export const wwex = clientCredentialsCheck("wwex", "/oauth/token");
