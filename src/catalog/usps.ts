import { Type } from "@sinclair/typebox";
import { configObject, SHIP_FROM_FIELDS, type ConnectorDefinition } from "./definition.ts";

export const usps: ConnectorDefinition = {
  type: "usps",
  name: "USPS",
  category: "shipping",
  authMode: "A",
  configSchema: configObject({
    default_mail_class: Type.String({ maxLength: 50 }),
    crid: Type.String({ pattern: "^[0-9]{1,15}$" }),
  }),
  credentialKeys: ["client_id", "client_secret"],
  requiredCredentialKeys: ["client_id", "client_secret"],
  requiredFields: SHIP_FROM_FIELDS,
  isShop: false,
  docsUrl: "https://developers.usps.com/apis",
};
