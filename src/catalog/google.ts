import { Type } from "@sinclair/typebox";
import { configObject, type ConnectorDefinition } from "./definition.ts";

export const google: ConnectorDefinition = {
  type: "google",
  name: "Google Maps Platform",
  category: "maps",
  authMode: "A",
  configSchema: configObject({
    region: Type.String({ pattern: "^[a-z]{2}$" }),
    language: Type.String({ pattern: "^[a-z]{2}(-[A-Z]{2})?$" }),
  }),
  credentialKeys: ["api_key"],
  requiredCredentialKeys: ["api_key"],
  requiredFields: [],
  isShop: false,
  docsUrl: "https://developers.google.com/maps/documentation",
  baseUrls: { live: "https://maps.googleapis.com" },
  authRecipe: {
    scheme: "query",
    query: { key: "{api_key}" },
    source: "https://developers.google.com/maps/documentation/geocoding/get-api-key (key query parameter)",
  },
  inboundWebhooks: { scheme: "url_token", source: "Google Maps Platform sends no webhooks (https://developers.google.com/maps/documentation)" },
};
