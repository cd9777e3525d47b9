import { Type } from "@sinclair/typebox";
import { configObject, type ConnectorDefinition } from "./definition.ts";

export const amazon: ConnectorDefinition = {
  type: "amazon",
  name: "Amazon Seller Central",
  category: "commerce",
  authMode: "A",
  configSchema: configObject({
    marketplace_ids: Type.Array(Type.String({ pattern: "^[A-Z0-9]{10,14}$" }), { minItems: 1, maxItems: 20, uniqueItems: true }),
    region: Type.Union([Type.Literal("na"), Type.Literal("eu"), Type.Literal("fe")]),
  }),
  credentialKeys: ["lwa_client_id", "lwa_client_secret", "refresh_token"],
  requiredCredentialKeys: ["lwa_client_id", "lwa_client_secret", "refresh_token"],
  requiredFields: ["seller_id"],
  isShop: true,
  docsUrl: "https://developer-docs.amazon.com/sp-api/",
};
