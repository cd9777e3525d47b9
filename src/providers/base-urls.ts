import type { Config } from "../config.ts";

/**
 * Where each provider's API lives. `PATCHBAY_PROVIDER_URL_<NAME>` replaces
 * the origin (tests point every provider at a fake on 127.0.0.1); paths stay
 * the same. Shopify has no fixed origin (each shop is its own host), so its
 * default is built from the shop domain.
 */
const DEFAULTS: Record<string, string> = {
  stripe: "https://api.stripe.com",
  avatax: "https://rest.avatax.com",
  shippo: "https://api.goshippo.com",
  printnode: "https://api.printnode.com",
  postmark: "https://api.postmarkapp.com",
  mapquest: "https://www.mapquestapi.com",
  google: "https://maps.googleapis.com",
  openai: "https://api.openai.com",
  plaid: "https://production.plaid.com",
  ups: "https://onlinetools.ups.com",
  fedex: "https://apis.fedex.com",
  usps: "https://apis.usps.com",
  amazon: "https://sellingpartnerapi-na.amazon.com",
  // Login with Amazon: where SP-API refresh tokens become access tokens.
  amazon_lwa: "https://api.amazon.com",
  ebay: "https://api.ebay.com",
  wwex: "https://www.wwexship.com",
};

/** Sandbox origins, for providers whose test accounts live elsewhere. */
const SANDBOX: Record<string, string> = {
  avatax: "https://sandbox-rest.avatax.com",
  plaid: "https://sandbox.plaid.com",
  ups: "https://wwwcie.ups.com",
  fedex: "https://apis-sandbox.fedex.com",
  usps: "https://apis-tem.usps.com",
  ebay: "https://api.sandbox.ebay.com",
};

export function providerBaseUrl(config: Pick<Config, "providerUrls">, provider: string, opts: { mode?: "sandbox" | "live"; shop?: string } = {}): string {
  const override = config.providerUrls[provider];
  if (override) return override;
  if (provider === "shopify") {
    if (!opts.shop) throw new Error("Shopify calls need the shop domain");
    return `https://${opts.shop}`;
  }
  const base = (opts.mode === "sandbox" && SANDBOX[provider]) || DEFAULTS[provider];
  if (!base) throw new Error(`No base URL for provider ${provider}; set PATCHBAY_PROVIDER_URL_${provider.toUpperCase()}`);
  return base;
}
