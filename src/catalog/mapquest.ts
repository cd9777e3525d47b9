import { Type } from "@sinclair/typebox";
import { configObject, type ConnectorDefinition } from "./definition.ts";

export const mapquest: ConnectorDefinition = {
  type: "mapquest",
  name: "MapQuest",
  category: "maps",
  authMode: "A",
  configSchema: configObject({
    unit: Type.Union([Type.Literal("m"), Type.Literal("k")]),
    route_type: Type.Union([Type.Literal("fastest"), Type.Literal("shortest"), Type.Literal("pedestrian"), Type.Literal("bicycle")]),
  }),
  credentialKeys: ["api_key"],
  requiredCredentialKeys: ["api_key"],
  requiredFields: [],
  isShop: false,
  docsUrl: "https://developer.mapquest.com/documentation/",
  baseUrls: { live: "https://www.mapquestapi.com" },
  authRecipe: {
    scheme: "query",
    query: { key: "{api_key}" },
    source: "https://developer.mapquest.com/documentation/api/geocoding/ (key query parameter)",
  },
  inboundWebhooks: { scheme: "url_token", source: "MapQuest sends no webhooks (https://developer.mapquest.com/documentation/)" },
};
