import { Type } from "@sinclair/typebox";
import { configObject, SHIP_FROM_FIELDS, type ConnectorDefinition } from "./definition.ts";

export const ups: ConnectorDefinition = {
  type: "ups",
  name: "UPS",
  category: "shipping",
  authMode: "A",
  configSchema: configObject({
    default_service: Type.String({ pattern: "^[0-9]{2}$" }),
    negotiated_rates: Type.Boolean(),
  }),
  credentialKeys: ["account_number", "client_id", "client_secret"],
  requiredCredentialKeys: ["account_number", "client_id", "client_secret"],
  requiredFields: SHIP_FROM_FIELDS,
  isShop: false,
  docsUrl: "https://developer.ups.com/api/reference",
};
