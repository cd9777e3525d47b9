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
};
