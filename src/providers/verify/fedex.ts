import { clientCredentialsCheck } from "./check.ts";

/** FedEx: an OAuth client-credentials token, POST /oauth/token (client_id and client_secret in the form). */
export const fedex = clientCredentialsCheck("fedex", "/oauth/token");
