import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Services } from "../../compose.ts";
import { errorResponses } from "./errors.ts";
import { CreateDestinationBody, DestinationList, DestinationParams, DestinationSchema, DestinationWithSecret, SimulateBody, SimulateResponse, UpdateDestinationBody } from "./webhook-schemas.ts";

const tags = ["webhooks"];
const security = [{ apiKeyHeader: [] }];
const scope = "webhooks:manage" as const;

/**
 * /webhooks: the entity's Subtotal-style webhook destinations, under the
 * connections surface's auth and error shape. Registered inside
 * connectionsRoutes, so its key check, idempotency and errors apply.
 */
export function webhookDestinationRoutes(root: FastifyInstance, services: Services): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const destinations = services.webhookDestinations;
  app.addSchema(DestinationSchema);

  app.get("/webhooks", {
    config: { scope },
    schema: { tags, security, summary: "List webhook destinations", response: { 200: DestinationList, ...errorResponses(401, 403, 429) } },
    handler: async (request) => ({ webhooks: await destinations.listDestinations(request.actor) }),
  });

  app.post("/webhooks", {
    // A replay of the same Idempotency-Key answers the destination without its secret: secrets are never stored for replay.
    config: { scope, idempotencyOmitFields: ["signing_secret"] },
    schema: {
      tags,
      security,
      summary: "Add a webhook destination (its signing secret is shown once)",
      body: CreateDestinationBody,
      response: { 201: DestinationWithSecret, ...errorResponses(400, 401, 403, 409, 413, 415, 422, 429) },
    },
    handler: async (request, reply) => {
      reply.header("cache-control", "no-store");
      return reply.status(201).send(await destinations.createDestination(request.actor, request.body));
    },
  });

  app.post("/webhooks/simulate", {
    config: { scope },
    schema: {
      tags,
      security,
      summary: "Send simulated events to the destinations that accept them",
      description: "One simulated event of each type asked for (default: every type), delivered only to destinations with accepts_simulated_events and the type enabled. Nothing else is written.",
      body: SimulateBody,
      response: { 202: SimulateResponse, ...errorResponses(400, 401, 403, 413, 415, 422, 429) },
    },
    handler: async (request, reply) => reply.status(202).send(await destinations.simulateEvents(request.actor, request.body?.events)),
  });

  app.get("/webhooks/:destination_id", {
    config: { scope },
    schema: { tags, security, summary: "Get a webhook destination", params: DestinationParams, response: { 200: Ref(), ...errorResponses(401, 403, 404, 422, 429) } },
    handler: async (request) => destinations.getDestination(request.actor, request.params.destination_id),
  });

  app.patch("/webhooks/:destination_id", {
    config: { scope },
    schema: {
      tags,
      security,
      summary: "Change a webhook destination's name, URL, events or simulated-events setting",
      params: DestinationParams,
      body: UpdateDestinationBody,
      response: { 200: Ref(), ...errorResponses(400, 401, 403, 404, 413, 415, 422, 429) },
    },
    handler: async (request) => destinations.updateDestination(request.actor, request.params.destination_id, request.body),
  });

  app.delete("/webhooks/:destination_id", {
    config: { scope },
    schema: {
      tags,
      security,
      summary: "Delete a webhook destination (its secret and queued deliveries go with it)",
      params: DestinationParams,
      response: { 204: { type: "null", description: "Deleted" }, ...errorResponses(400, 401, 403, 404, 422, 429) },
    },
    handler: async (request, reply) => {
      await destinations.deleteDestination(request.actor, request.params.destination_id);
      return reply.status(204).send();
    },
  });
}

function Ref() {
  return { $ref: "WebhookDestination#" };
}
