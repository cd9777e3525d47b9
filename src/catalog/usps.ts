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
  baseUrls: { live: "https://apis.usps.com", sandbox: "https://apis-tem.usps.com" },
  authRecipe: {
    scheme: "minted",
    mint: { provider: "usps", path: "/oauth2/v3/token", grant: "client_credentials", clientAuth: "form", clientIdKey: "client_id", clientSecretKey: "client_secret" },
    header: "authorization",
    prefix: "Bearer ",
    source: "https://developer.usps.com/api/81 (OAuth 2.0 client credentials, POST /oauth2/v3/token; Authorization: Bearer)",
  },
  inboundWebhooks: { scheme: "url_token", source: "https://developer.usps.com/subscriptions (the URL token authenticates)" },
};
