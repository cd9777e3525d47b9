import { Type } from "@sinclair/typebox";
import { configObject, type ConnectorDefinition } from "./definition.ts";

export const stripe: ConnectorDefinition = {
  type: "stripe",
  name: "Stripe",
  category: "payments",
  authMode: "A",
  configSchema: configObject({
    account_id: Type.String({ pattern: "^acct_[A-Za-z0-9]+$" }),
    statement_descriptor: Type.String({ minLength: 5, maxLength: 22 }),
    capture_method: Type.Union([Type.Literal("automatic"), Type.Literal("manual")]),
    currency: Type.String({ pattern: "^[a-z]{3}$" }),
    metadata: Type.Record(Type.String({ maxLength: 40 }), Type.String({ maxLength: 500 }), { maxProperties: 50 }),
  }),
  credentialKeys: ["publishable_key", "secret_key"],
  requiredCredentialKeys: ["secret_key"],
  requiredFields: [],
  isShop: false,
  docsUrl: "https://docs.stripe.com/api",
  baseUrls: { live: "https://api.stripe.com" },
  authRecipe: {
    scheme: "headers",
    headers: { authorization: "Bearer {secret_key}" },
    idempotencyHeader: "idempotency-key",
    source: "https://docs.stripe.com/api/authentication (Bearer secret key; Stripe-Account, Idempotency-Key: /api/connected-accounts, /api/idempotent_requests)",
  },
  inboundWebhooks: { scheme: "stripe_signature", source: "https://docs.stripe.com/webhooks#verify-manually" },
};
