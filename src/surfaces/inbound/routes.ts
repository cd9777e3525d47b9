import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { ConnectorType } from "../../catalog/index.ts";
import type { Config } from "../../config.ts";
import type { Services } from "../../compose.ts";
import { ConnectorTypeParams, errorResponses } from "../integrations/schemas.ts";

const InboundParams = Type.Object({
  connector_type: ConnectorTypeParams.properties.connector_type,
  token: Type.String({ maxLength: 128, description: "The connector's unguessable inbound token (the last segment of its inbound_webhook_url)." }),
});

const Received = Type.Object({
  received: Type.Literal(true),
  duplicate: Type.Boolean({ description: "True when this provider event id was already accepted: nothing new is emitted." }),
  event_id: Type.String({ format: "uuid", description: "The Patchbay event connector.webhook_received it became." }),
});

/**
 * Provider webhooks in: no API key (the provider cannot hold one); the URL's
 * token finds the connector and the type's scheme verifies the raw body
 * (README, Provider webhooks in). Errors are the flat /v1 shape.
 */
export async function inboundWebhookRoutes(root: FastifyInstance, { services, config }: { services: Services; config: Pick<Config, "inboundWebhooks"> }) {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  // Signatures are over the bytes as sent: any content type is kept raw, up to the limit.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: config.inboundWebhooks.maxBodyBytes }, (_request, body, done) => done(null, body));

  app.post("/v1/webhooks-in/:connector_type/:token", {
    bodyLimit: config.inboundWebhooks.maxBodyBytes,
    schema: {
      tags: ["integrations"],
      security: [],
      summary: "Receive a provider's webhook for a connector",
      description:
        "Register the connector's inbound_webhook_url with the provider. No API key: the URL's token finds the connector, and the delivery is verified by the type's scheme " +
        "(Stripe-Signature with 5-minute tolerance, X-Shopify-Hmac-Sha256, Plaid-Verification JWT, HTTP Basic for Postmark, ?token= for Shippo; the URL token alone for types that sign nothing). " +
        "A verified delivery is deduplicated on the provider's event id and emitted once as the Patchbay event connector.webhook_received. Rate-limited per connector " +
        "(PATCHBAY_INBOUND_WEBHOOKS_PER_MINUTE); body limit PATCHBAY_INBOUND_WEBHOOK_MAX_BODY_BYTES.",
      params: InboundParams,
      querystring: Type.Object({ token: Type.Optional(Type.String({ maxLength: 4096, description: "Shippo: the self-generated token registered with the URL." })) }, { additionalProperties: true }),
      response: { 200: Received, ...errorResponses(400, 401, 404, 413, 429) },
    },
    handler: async (request) => {
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const outcome = await services.inboundWebhooks.receive(request.params.connector_type as ConnectorType, request.params.token, {
        headers: request.headers,
        query: request.query as Record<string, string | undefined>,
        raw,
        requestId: request.id,
      });
      return { received: true as const, duplicate: outcome.duplicate, event_id: outcome.eventId };
    },
  });
}
