/**
 * The one list of query parameters whose values never leave Patchbay in a
 * log — the server's log lines (logging.ts), the provider-call log
 * (providers/call-log.ts) and the API request log (services/request-logs.ts):
 * a name that contains key, token, secret, password, signature, sig, code,
 * credential or auth (api_key, connection_token, client_secret, X-Amz-Signature,
 * code, …), and OAuth's `state` and Shopify's `hmac`, which contain none.
 */
const SECRET_NAME = /(key|token|secret|password|passwd|signature|sig|code|credential|auth)/i;
const SECRET_NAMES = new Set(["hmac", "state"]);

export function isSecretParam(name: string): boolean {
  return SECRET_NAMES.has(name.toLowerCase()) || SECRET_NAME.test(name);
}
