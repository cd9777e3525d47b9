import { Type } from "@sinclair/typebox";
import { configObject, type ConnectorDefinition } from "./definition.ts";

export const ebay: ConnectorDefinition = {
  type: "ebay",
  name: "eBay",
  category: "commerce",
  authMode: "A",
  configSchema: configObject({
    marketplace_id: Type.String({ pattern: "^EBAY_[A-Z]{2,3}$" }),
    fulfillment_policy_id: Type.String({ maxLength: 64 }),
  }),
  credentialKeys: ["client_id", "client_secret", "refresh_token"],
  requiredCredentialKeys: ["client_id", "client_secret", "refresh_token"],
  requiredFields: ["seller_id"],
  isShop: true,
  docsUrl: "https://developer.ebay.com/develop/apis",
  baseUrls: { live: "https://api.ebay.com", sandbox: "https://api.sandbox.ebay.com" },
  authRecipe: {
    scheme: "minted",
    mint: { provider: "ebay", path: "/identity/v1/oauth2/token", grant: "refresh_token", clientAuth: "basic", clientIdKey: "client_id", clientSecretKey: "client_secret", refreshTokenKey: "refresh_token" },
    header: "authorization",
    prefix: "Bearer ",
    source: "https://developer.ebay.com/api-docs/static/oauth-refresh-token-request.html (refresh_token grant, Basic client id:secret; Bearer user token)",
  },
  inboundWebhooks: { scheme: "url_token", source: "https://developer.ebay.com/api-docs/commerce/notification/overview.html (X-EBAY-SIGNATURE uses eBay's public keys; the URL token authenticates)" },
};
