import { Type } from "@sinclair/typebox";
import { configObject, SHIP_FROM_FIELDS, type ConnectorDefinition } from "./definition.ts";

export const ups: ConnectorDefinition = {
  type: "ups",
  name: "UPS",
  category: "shipping",
  authMode: "A",
  configSchema: configObject({
    default_service: Type.String({ pattern: "^[0-9]{2}$" }),
    negotiated_rates: Type.Boolean(),
  }),
  credentialKeys: ["account_number", "client_id", "client_secret"],
  requiredCredentialKeys: ["account_number", "client_id", "client_secret"],
  requiredFields: SHIP_FROM_FIELDS,
  isShop: false,
  docsUrl: "https://developer.ups.com/api/reference",
  baseUrls: { live: "https://onlinetools.ups.com", sandbox: "https://wwwcie.ups.com" },
  authRecipe: {
    scheme: "minted",
    mint: { provider: "ups", path: "/security/v1/oauth/token", grant: "client_credentials", clientAuth: "basic", clientIdKey: "client_id", clientSecretKey: "client_secret", headers: { "x-merchant-id": "{account_number}" } },
    header: "authorization",
    prefix: "Bearer ",
    source: "https://developer.ups.com/api/reference/oauth/client-credentials (POST /security/v1/oauth/token, Basic client id:secret; Bearer token)",
  },
  inboundWebhooks: { scheme: "url_token", source: "https://developer.ups.com/api/reference/trackalert (Track Alert posts to your URL with the credential you set; the URL token authenticates)" },
};
