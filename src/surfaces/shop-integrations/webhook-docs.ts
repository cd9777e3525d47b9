import { SENDCLOUD_RETRY_DELAYS_MS } from "../../services/sendcloud-webhooks.ts";

/**
 * The OpenAPI 3.1 `webhooks` Patchbay sends to a shop integration's
 * webhook_url: the Sendcloud v3 webhooks spec's IntegrationConnected,
 * IntegrationModified and IntegrationDeleted (services/sendcloud-webhooks.ts).
 */
const integration = {
  type: "object",
  description: "The integration, in the field names of the Sendcloud webhooks spec (IntegrationWebhookBase).",
  properties: {
    id: { type: "integer", minimum: 1, description: "The integration's id (/api/v3/integrations/{id})." },
    shop_name: { type: "string" },
    shop_url: { type: ["string", "null"], format: "uri" },
    system: { type: "string", description: "The integration type: shopify, amazon or ebay (the v3 object's `type`)." },
    failing_since: { type: ["string", "null"], format: "date-time", description: "The v3 object's started_failing_at." },
    last_fetch: { type: ["string", "null"], format: "date-time", description: "The v3 object's last_fetched_at." },
    last_updated_at: { type: ["string", "null"], format: "date-time", description: "The v3 object's updated_at." },
    service_point_enabled: { type: "boolean" },
    service_point_carriers: { type: "array", uniqueItems: true, items: { type: "string" } },
    webhook_active: { type: "boolean" },
    webhook_url: { type: ["string", "null"], format: "uri" },
  },
  required: ["id", "shop_name", "shop_url", "system", "failing_since", "last_fetch", "last_updated_at", "service_point_enabled", "service_point_carriers", "webhook_active", "webhook_url"],
};

const minutes = SENDCLOUD_RETRY_DELAYS_MS.map((ms) => ms / 60_000).join(", ");

function hook(action: string, summary: string, when: string) {
  return {
    post: {
      operationId: `webhook_${action}`,
      summary,
      description:
        `Sent to the integration's webhook_url, when webhook_active, ${when}. Signed: \`Sendcloud-Signature\` is the hex HMAC-SHA256 of the raw body ` +
        "keyed with the integration's webhook signature key (PUT /v1/integrations/{type}/webhook-secret); without a key the request is unsigned. " +
        `A call that does not answer 2xx is retried 10 times, after ${minutes} minutes; then the delivery is failed and written to the integration's exception log.`,
      tags: ["shop integrations"],
      security: [{ sendcloudSignature: [] }],
      requestBody: {
        required: true,
        content: {
          "application/json": {
            schema: {
              type: "object",
              required: ["action", "timestamp", "integration"],
              properties: {
                action: { type: "string", enum: [action] },
                timestamp: { type: "integer", description: "The event's time, Unix milliseconds (order deliveries by it: they may arrive out of order)." },
                integration,
              },
            },
          },
        },
      },
      responses: {
        "200": { description: "Any 2xx: received." },
        "400": { description: "Anything else (or no answer): retried on the schedule above." },
      },
    },
  };
}

export const SHOP_INTEGRATION_WEBHOOKS = {
  IntegrationConnected: hook("integration_connected", "Integration connected", "when the shop connector is connected or restored"),
  IntegrationModified: hook("integration_updated", "Integration modified", "when the integration is updated (PATCH /api/v3/integrations/{id}, changes on /v1/integrations/{type})"),
  IntegrationDeleted: hook("integration_deleted", "Integration deleted", "when the integration is deleted (DELETE /api/v3/integrations/{id}, DELETE /v1/integrations/{type})"),
};

export const SENDCLOUD_SIGNATURE_SCHEME = {
  type: "apiKey",
  in: "header",
  name: "Sendcloud-Signature",
  description: "On Patchbay's webhooks to a shop integration: hex HMAC-SHA256 of the raw body with the integration's webhook signature key.",
};
