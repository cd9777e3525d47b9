/**
 * The paths Patchbay hands to the outside world to call back (a redirect_uri
 * registered with a provider). The /v1 surface serves them; the composition
 * root turns them into URLs for the services, which know no routes.
 */

/** The Shopify OAuth callback route: Shopify redirects the merchant's browser here (redirect_uri). */
export const SHOPIFY_CALLBACK_PATH = "/v1/integrations/shopify/oauth/callback";
