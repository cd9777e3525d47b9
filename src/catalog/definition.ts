import { Type, type TObject } from "@sinclair/typebox";

/**
 * What Patchbay knows about one connector type: how it authenticates, which
 * config it accepts, which credential keys it stores, which row fields it needs.
 */
export interface ConnectorDefinition {
  type: string;
  name: string;
  category: "payments" | "tax" | "shipping" | "printing" | "email" | "commerce" | "maps" | "ai" | "banking";
  /** A: config + API-key credentials written through PUT …/credentials. B: OAuth. */
  authMode: "A" | "B";
  /** JSON Schema of `config`; validated on POST and after every PATCH merge. */
  configSchema: TObject;
  /** Key names PUT …/credentials accepts; the values are sealed, the names are shown. */
  credentialKeys: readonly string[];
  /** Credential keys that must all be present in a PUT. */
  requiredCredentialKeys: readonly string[];
  /** Row fields a POST must carry and a PATCH must not clear. */
  requiredFields: readonly RequiredField[];
  /** Shop-type connectors are also shop integrations (/api/v3/integrations). */
  isShop: boolean;
  docsUrl: string;
  /** Where the provider's API lives per connector mode (PATCHBAY_PROVIDER_URL_<TYPE> overrides both). Shopify: each shop's own host. */
  baseUrls: { live: string; sandbox?: string };
  /** How the proxy injects the stored credentials (SPEC §9), with the provider's page that says so. */
  authRecipe: AuthRecipe;
  /** How the provider signs the webhooks it sends to the connector's inbound_webhook_url. */
  inboundWebhooks: InboundWebhookScheme;
}

/**
 * How a provider expects its credentials. Every header and query parameter
 * a recipe sets is the recipe's: the caller's own copy is stripped.
 * `{key}` in a template is the stored credential of that name.
 */
export type AuthRecipe = (
  /** Headers built from the stored credentials (Bearer, ShippoToken, a vendor header, HTTP Basic). Optional ones are sent only when stored. */
  | { scheme: "headers"; headers: Record<string, string>; optional?: Record<string, string>; basic?: { userKey: string; passwordKey?: string } }
  /** Query parameters built from the stored credentials (the key in the URL). */
  | { scheme: "query"; query: Record<string, string> }
  /** Shopify: the connector's OAuth access token (refreshed when due) in X-Shopify-Access-Token, sent to the shop's host. */
  | { scheme: "shopify_token" }
  /** An access token Patchbay mints from the stored credentials, sealed and reused until shortly before it expires. */
  | { scheme: "minted"; mint: MintRecipe; header: string; prefix: string }
) & {
  /** The header that makes a POST safe to retry (the provider's idempotency key). */
  idempotencyHeader?: string;
  /** The provider's page that documents the scheme. */
  source: string;
};

/** An OAuth 2.0 token request (RFC 6749 §4.4 client credentials, or §6 refresh token). */
export interface MintRecipe {
  /** The provider name whose base URL serves the token endpoint (Amazon: amazon_lwa). */
  provider: string;
  path: string;
  grant: "client_credentials" | "refresh_token";
  /** Client id and secret: in an HTTP Basic header, or in the form. */
  clientAuth: "basic" | "form";
  clientIdKey: string;
  clientSecretKey: string;
  refreshTokenKey?: string;
  /** Extra headers from stored credentials (UPS: x-merchant-id). */
  headers?: Record<string, string>;
}

/** How a provider's webhooks are verified at the inbound URL. */
export type InboundWebhookScheme =
  /** Stripe-Signature: t=…,v1=HMAC-SHA256(secret, `${t}.${body}`), 5-minute tolerance. */
  | { scheme: "stripe_signature"; source: string }
  /** X-Shopify-Hmac-Sha256: base64 HMAC-SHA256(secret, raw body). */
  | { scheme: "shopify_hmac"; source: string }
  /** HTTP Basic credentials the entity sets on the provider's webhook (user:password is the stored webhook secret). */
  | { scheme: "basic_auth"; source: string }
  /** Plaid-Verification: an ES256 JWT whose key (by kid) comes from the provider's key endpoint, iat within 5 minutes, request_body_sha256 of the raw body. */
  | { scheme: "plaid_jwt"; source: string }
  /** A token the entity appends to the URL it registers (?token=…): it must equal the stored webhook secret. */
  | { scheme: "query_token"; source: string }
  /** The provider signs nothing verifiable with a shared secret: the URL's unguessable per-connector token is the proof. */
  | { scheme: "url_token"; source: string };

export type RequiredField =
  | "ship_from_name"
  | "ship_from_address1"
  | "ship_from_city"
  | "ship_from_state"
  | "ship_from_zip"
  | "seller_id"
  | "bank_account_id";

export const SHIP_FROM_FIELDS: readonly RequiredField[] = [
  "ship_from_name",
  "ship_from_address1",
  "ship_from_city",
  "ship_from_state",
  "ship_from_zip",
];

/** A config object: only the listed keys, each optional. */
export function configObject(properties: Parameters<typeof Type.Object>[0]): TObject {
  return Type.Object(
    Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, Type.Optional(v)])),
    { additionalProperties: false },
  );
}
