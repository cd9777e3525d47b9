import { Type } from "@sinclair/typebox";
import { configObject, type ConnectorDefinition } from "./definition.ts";

export const plaid: ConnectorDefinition = {
  type: "plaid",
  name: "Plaid",
  category: "banking",
  authMode: "A",
  configSchema: configObject({
    products: Type.Array(Type.Union([Type.Literal("auth"), Type.Literal("transactions"), Type.Literal("balance"), Type.Literal("identity")]), { maxItems: 4, uniqueItems: true }),
    country_codes: Type.Array(Type.String({ pattern: "^[A-Z]{2}$" }), { maxItems: 20, uniqueItems: true }),
  }),
  credentialKeys: ["access_token", "client_id", "secret"],
  requiredCredentialKeys: ["client_id", "secret"],
  requiredFields: ["bank_account_id"],
  isShop: false,
  docsUrl: "https://plaid.com/docs/api/",
  baseUrls: { live: "https://production.plaid.com", sandbox: "https://sandbox.plaid.com" },
  authRecipe: {
    scheme: "headers",
    headers: { "plaid-client-id": "{client_id}", "plaid-secret": "{secret}" },
    source: "https://plaid.com/docs/api/#api-protocols-and-headers (client_id and secret in the body or the PLAID-CLIENT-ID and PLAID-SECRET headers)",
  },
  inboundWebhooks: { scheme: "plaid_jwt", source: "https://plaid.com/docs/api/webhooks/webhook-verification/ (Plaid-Verification ES256 JWT; key from /webhook_verification_key/get with the stored client_id and secret)" },
};
