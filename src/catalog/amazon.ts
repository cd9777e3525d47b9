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
  baseUrls: { live: "https://sellingpartnerapi-na.amazon.com", sandbox: "https://sandbox.sellingpartnerapi-na.amazon.com" },
  authRecipe: {
    scheme: "minted",
    mint: { provider: "amazon_lwa", path: "/auth/o2/token", grant: "refresh_token", clientAuth: "form", clientIdKey: "lwa_client_id", clientSecretKey: "lwa_client_secret", refreshTokenKey: "refresh_token" },
    header: "x-amz-access-token",
    prefix: "",
    source: "https://developer-docs.amazon.com/sp-api/docs/connecting-to-the-selling-partner-api (LWA refresh_token grant at api.amazon.com/auth/o2/token; x-amz-access-token)",
  },
  inboundWebhooks: { scheme: "url_token", source: "https://developer-docs.amazon.com/sp-api/docs/notifications-api-v1-use-case-guide (SQS/EventBridge, not HTTP; the URL token authenticates a relay)" },
};
