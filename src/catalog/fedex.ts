import { Type } from "@sinclair/typebox";
import { configObject, SHIP_FROM_FIELDS, type ConnectorDefinition } from "./definition.ts";

export const fedex: ConnectorDefinition = {
  type: "fedex",
  name: "FedEx",
  category: "shipping",
  authMode: "A",
  configSchema: configObject({
    default_service: Type.String({ maxLength: 50 }),
    pickup_type: Type.Union([Type.Literal("DROPOFF_AT_FEDEX_LOCATION"), Type.Literal("CONTACT_FEDEX_TO_SCHEDULE"), Type.Literal("USE_SCHEDULED_PICKUP")]),
  }),
  credentialKeys: ["account_number", "client_id", "client_secret"],
  requiredCredentialKeys: ["account_number", "client_id", "client_secret"],
  requiredFields: SHIP_FROM_FIELDS,
  isShop: false,
  docsUrl: "https://developer.fedex.com/api/en-us/catalog.html",
  baseUrls: { live: "https://apis.fedex.com", sandbox: "https://apis-sandbox.fedex.com" },
  authRecipe: {
    scheme: "minted",
    mint: { provider: "fedex", path: "/oauth/token", grant: "client_credentials", clientAuth: "form", clientIdKey: "client_id", clientSecretKey: "client_secret" },
    header: "authorization",
    prefix: "Bearer ",
    source: "https://developer.fedex.com/api/en-us/catalog/authorization/docs.html (POST /oauth/token, client_credentials in the form; Bearer token)",
  },
  inboundWebhooks: { scheme: "url_token", source: "https://developer.fedex.com/api/en-us/guides/webhooks.html (signature check not implemented; the URL token authenticates)" },
};
