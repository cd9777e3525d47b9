import { Type } from "@sinclair/typebox";
import { configObject, type ConnectorDefinition } from "./definition.ts";

export const shopify: ConnectorDefinition = {
  type: "shopify",
  name: "Shopify",
  category: "commerce",
  // OAuth: the access and refresh tokens come from the authorization code exchange, never from the caller.
  authMode: "B",
  configSchema: configObject({
    location_id: Type.String({ maxLength: 64 }),
    sync_orders: Type.Boolean(),
    fulfillment_notify_customer: Type.Boolean(),
  }),
  credentialKeys: [],
  requiredCredentialKeys: [],
  requiredFields: [],
  isShop: true,
  docsUrl: "https://shopify.dev/docs/apps/build/authentication-authorization",
  baseUrls: { live: "https://{shop}" },
  authRecipe: {
    scheme: "shopify_token",
    source: "https://shopify.dev/docs/api/admin-rest#authentication (X-Shopify-Access-Token)",
  },
  inboundWebhooks: { scheme: "shopify_hmac", source: "https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook (X-Shopify-Hmac-Sha256)" },
};
