import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { Services } from "../../compose.ts";
import { errorResponses } from "./schemas.ts";
import { listEnvelope, pageOptions } from "../shared/list-page.ts";
import {
  CreateEndpointBody,
  DeletedEndpoint,
  DeliveryList,
  DeliveryParams,
  EndpointList,
  EndpointParams,
  EndpointWithSecret,
  DeliveryPageQuery,
  EndpointPageQuery,
  RotatedEndpoint,
  TestEvent,
  UpdateEndpointBody,
  WebhookDeliverySchema,
  WebhookEndpointSchema,
} from "./webhook-schemas.ts";

const tags = ["webhooks"];
const security = [{ bearerAuth: [] }];
const scope = "webhooks:manage" as const;
// The create and rotate answers carry the signing secret: the idempotency store keeps them without it.
const withoutSecret = ["secret"];

/** /v1/webhook_endpoints… — under the integrations surface's API-key, rate-limit and idempotency hooks. */
export async function webhookRoutes(root: FastifyInstance, { services }: { services: Services }) {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(WebhookEndpointSchema);
  app.addSchema(WebhookDeliverySchema);
  const endpoints = services.webhookEndpoints;
  const deliveries = services.webhookDeliveries;

  app.get("/v1/webhook_endpoints", {
    config: { scope },
    schema: { tags, security, summary: "List webhook endpoints, newest first", querystring: EndpointPageQuery, response: { 200: EndpointList, ...errorResponses(400, 401, 403) } },
    handler: async (request) => listEnvelope(await endpoints.listEndpoints(request.actor, pageOptions(request.query)), "/v1/webhook_endpoints"),
  });

  app.post("/v1/webhook_endpoints", {
    config: { scope, idempotencyOmitFields: withoutSecret },
    schema: {
      tags,
      security,
      summary: "Create a webhook endpoint",
      description: "201 with the endpoint and its signing secret (`secret`), shown this once. A replay of the same Idempotency-Key answers the endpoint without the secret.",
      body: CreateEndpointBody,
      response: { 201: EndpointWithSecret, ...errorResponses(400, 401, 403, 409, 413, 415) },
    },
    handler: async (request, reply) => reply.status(201).send(await endpoints.createEndpoint(request.actor, request.body)),
  });

  app.get("/v1/webhook_endpoints/:id", {
    config: { scope },
    schema: { tags, security, summary: "Get a webhook endpoint", params: EndpointParams, response: { 200: Type.Ref("WebhookEndpoint"), ...errorResponses(401, 403, 404) } },
    handler: async (request) => endpoints.getEndpoint(request.actor, request.params.id),
  });

  app.patch("/v1/webhook_endpoints/:id", {
    config: { scope },
    schema: {
      tags,
      security,
      summary: "Update a webhook endpoint",
      description: "Any of url, enabled_events (or its deprecated alias events), description, status, api_version, metadata; any other field is 400 validation_failed. disabled is permanent: setting a disabled endpoint active or paused is 409 endpoint_disabled.",
      params: EndpointParams,
      body: UpdateEndpointBody,
      response: { 200: Type.Ref("WebhookEndpoint"), ...errorResponses(400, 401, 403, 404, 409, 413, 415) },
    },
    handler: async (request) => endpoints.updateEndpoint(request.actor, request.params.id, request.body),
  });

  app.delete("/v1/webhook_endpoints/:id", {
    config: { scope },
    schema: { tags, security, summary: "Delete a webhook endpoint, its secrets and its delivery log", params: EndpointParams, response: { 200: DeletedEndpoint, ...errorResponses(401, 403, 404) } },
    handler: async (request) => endpoints.deleteEndpoint(request.actor, request.params.id),
  });

  app.post("/v1/webhook_endpoints/:id/rotate_secret", {
    config: { scope, idempotencyOmitFields: withoutSecret },
    schema: {
      tags,
      security,
      summary: "Make a new signing secret; the old one keeps signing for 24 h",
      description: "Answers the endpoint with the new `secret` (shown this once), the reference's `webhook_id`, `last4` and `rotated_at`, and `previous_secret_expires_at`. Until then every delivery carries two v1 signatures.",
      params: EndpointParams,
      response: { 200: RotatedEndpoint, ...errorResponses(401, 403, 404) },
    },
    handler: async (request) => endpoints.rotateSecret(request.actor, request.params.id),
  });

  app.post("/v1/webhook_endpoints/:id/send_test_event", {
    config: { scope },
    schema: {
      tags,
      security,
      summary: "Send a webhook.test event to this endpoint",
      description: "202: a webhook.test event is queued to this endpoint only, whatever its subscription; its delivery appears in the endpoint's log. 409 endpoint_not_active unless the endpoint is active.",
      params: EndpointParams,
      response: { 202: TestEvent, ...errorResponses(401, 403, 404, 409) },
    },
    handler: async (request, reply) => reply.status(202).send(await endpoints.sendTestEvent(request.actor, request.params.id)),
  });

  app.get("/v1/webhook_endpoints/:id/deliveries", {
    config: { scope },
    schema: {
      tags,
      security,
      summary: "The endpoint's delivery log, newest event first",
      params: EndpointParams,
      querystring: DeliveryPageQuery,
      response: { 200: DeliveryList, ...errorResponses(400, 401, 403, 404) },
    },
    handler: async (request) =>
      listEnvelope(await deliveries.listDeliveries(request.actor, request.params.id, pageOptions(request.query)), `/v1/webhook_endpoints/${request.params.id}/deliveries`),
  });

  app.post("/v1/webhook_endpoints/:id/deliveries/:delivery_id/retry", {
    config: { scope },
    schema: {
      tags,
      security,
      summary: "Send a delivery again, now",
      description: "202: one more try is queued at once, whatever the delivery's status; its outcome appears in the delivery's attempts. A pending delivery keeps its schedule.",
      params: DeliveryParams,
      response: { 202: Type.Ref("WebhookDelivery"), ...errorResponses(401, 403, 404, 409) },
    },
    handler: async (request, reply) => reply.status(202).send(await deliveries.retryDelivery(request.actor, request.params.id, request.params.delivery_id)),
  });
}
