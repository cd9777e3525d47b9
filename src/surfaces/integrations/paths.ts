/** The Shopify OAuth callback route: Shopify redirects the merchant's browser here (redirect_uri). */
export const SHOPIFY_CALLBACK_PATH = "/v1/integrations/shopify/oauth/callback";
