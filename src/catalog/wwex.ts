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
  baseUrls: { live: "https://www.wwexship.com" },
  authRecipe: {
    scheme: "minted",
    mint: { provider: "wwex", path: "/oauth/token", grant: "client_credentials", clientAuth: "form", clientIdKey: "client_id", clientSecretKey: "client_secret" },
    header: "authorization",
    prefix: "Bearer ",
    source: "https://developer.wwex.com/ (OAuth 2.0 client credentials; published to account holders only, path conventional)",
  },
  inboundWebhooks: { scheme: "url_token", source: "WWEX publishes no webhook signing (https://developer.wwex.com/)" },
};
