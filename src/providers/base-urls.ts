import { CONNECTOR_TYPES, connectorDefinition } from "../catalog/index.ts";
import type { Config } from "../config.ts";

/**
 * Where each provider's API lives: the catalog's live and sandbox base URLs
 * per type, plus the token hosts that are not a connector type's own.
 * `PATCHBAY_PROVIDER_URL_<NAME>` replaces the origin (tests point every
 * provider at a fake on 127.0.0.1); paths stay the same. Shopify has no
 * fixed origin (each shop is its own host), so its URL is built from the shop domain.
 */
const EXTRA: Record<string, string> = {
  // Login with Amazon: where SP-API refresh tokens become access tokens.
  amazon_lwa: "https://api.amazon.com",
};

const byName = new Map<string, { live: string; sandbox?: string }>(
  CONNECTOR_TYPES.filter((t) => t !== "shopify").map((t) => [t, connectorDefinition(t).baseUrls]),
);

export function providerBaseUrl(config: Pick<Config, "providerUrls">, provider: string, opts: { mode?: "sandbox" | "live"; shop?: string } = {}): string {
  // PATCHBAY_PROVIDER_URL_<NAME>_SANDBOX, when set, overrides the sandbox origin alone.
  const override = (opts.mode === "sandbox" && config.providerUrls[`${provider}_sandbox`]) || config.providerUrls[provider];
  if (override) return override;
  if (provider === "shopify") {
    if (!opts.shop) throw new Error("Shopify calls need the shop domain");
    return `https://${opts.shop}`;
  }
  const urls = byName.get(provider);
  const base = urls ? (opts.mode === "sandbox" && urls.sandbox) || urls.live : EXTRA[provider];
  if (!base) throw new Error(`No base URL for provider ${provider}; set PATCHBAY_PROVIDER_URL_${provider.toUpperCase()}`);
  return base;
}
