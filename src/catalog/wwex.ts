import { Type } from "@sinclair/typebox";
import { configObject, SHIP_FROM_FIELDS, type ConnectorDefinition } from "./definition.ts";

export const wwex: ConnectorDefinition = {
  type: "wwex",
  name: "Worldwide Express",
  category: "shipping",
  authMode: "A",
  configSchema: configObject({
    freight_class: Type.String({ pattern: "^[0-9]{2,3}(\\.[0-9])?$" }),
    default_service: Type.String({ maxLength: 50 }),
  }),
  credentialKeys: ["client_id", "client_secret"],
  requiredCredentialKeys: ["client_id", "client_secret"],
  requiredFields: SHIP_FROM_FIELDS,
  isShop: false,
  docsUrl: "https://developer.wwex.com/",
};
