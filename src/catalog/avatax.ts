import { Type } from "@sinclair/typebox";
import { configObject, type ConnectorDefinition } from "./definition.ts";

export const avatax: ConnectorDefinition = {
  type: "avatax",
  name: "Avalara AvaTax",
  category: "tax",
  authMode: "A",
  configSchema: configObject({
    company_code: Type.String({ minLength: 1, maxLength: 25 }),
    commit_transactions: Type.Boolean(),
    default_tax_code: Type.String({ maxLength: 25 }),
  }),
  credentialKeys: ["account_id", "license_key"],
  requiredCredentialKeys: ["account_id", "license_key"],
  requiredFields: [],
  isShop: false,
  docsUrl: "https://developer.avalara.com/api-reference/avatax/rest/v2/",
  baseUrls: { live: "https://rest.avatax.com", sandbox: "https://sandbox-rest.avatax.com" },
  authRecipe: {
    scheme: "headers",
    headers: {},
    basic: { userKey: "account_id", passwordKey: "license_key" },
    source: "https://developer.avalara.com/avatax/authentication-in-avatax/ (HTTP Basic, account id : license key)",
  },
  inboundWebhooks: { scheme: "url_token", source: "AvaTax sends no signed webhooks (https://developer.avalara.com/api-reference/avatax/rest/v2/)" },
};
