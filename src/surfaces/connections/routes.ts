import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { useIdempotency } from "../../idempotency/hook.ts";
import { entityScope } from "../../idempotency/store.ts";
import type { Services } from "../../compose.ts";
import { useConnectionsAuth } from "./auth.ts";
import { linkTokenRoutes } from "./link-token-routes.ts";
import { webhookDestinationRoutes } from "./webhook-routes.ts";
import { errorResponses, HttpErrorSchema, sendConnectionsError, useConnectionsErrors, ValidationErrorSchema } from "./errors.ts";
import {
  ConnectionList,
  ConnectionParams,
  ConnectionSchema,
  CreateConnectionBody,
  ListConnectionsQuery,
  ListPurchasesQuery,
  PurchaseList,
  PurchaseParams,
  PurchaseSchema,
  RetailerList,
  SimulatedStatusBody,
  TokenBody,
  TokenResponse,
  UpdateConnectionBody,
} from "./schemas.ts";

const tags = ["connections"];
const keyOnly = [{ apiKeyHeader: [] }];
const keyAndToken = [{ apiKeyHeader: [], connectionToken: [] }];

/**
 * /connections…, /retailers, /purchases…, /simulated-connections… (seed 003,
 * SPEC §4, Subtotal's reference for what the seed leaves out).
 * Parse, call the connection service, shape the answer. The hosted /link page
 * is its own plugin (link-page.ts): HTML, another auth, no Idempotency-Key.
 */
export async function connectionsRoutes(root: FastifyInstance, { services }: { services: Services }) {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  useConnectionsErrors(app);
  app.addSchema(ConnectionSchema);
  app.addSchema(HttpErrorSchema);
  app.addSchema(ValidationErrorSchema);
  useConnectionsAuth(app, services);
  useIdempotency(app, { store: services.idempotency, scopeOf: (request) => entityScope(request.actor), renderError: sendConnectionsError });

  app.get("/retailers", {
    config: { scope: "connections:read" },
    schema: { tags, security: keyOnly, summary: "The retailers a customer can link", response: { 200: RetailerList, ...errorResponses(401, 403, 429) } },
    handler: async () => ({ retailers: services.connections.listRetailers().map((r) => ({ retailer_id: r.id, name: r.name, slug: r.slug })) }),
  });

  app.post("/connections", {
    config: { scope: "connections:write" },
    schema: {
      tags,
      security: keyOnly,
      summary: "Create a connection (status initialized)",
      body: CreateConnectionBody,
      response: { 201: ConnectionSchema, ...errorResponses(400, 401, 403, 409, 413, 415, 422, 429) },
    },
    handler: async (request, reply) => reply.status(201).send(await services.connections.createConnection(request.actor, request.body)),
  });

  app.get("/connections", {
    config: { scope: "connections:read" },
    schema: {
      tags,
      security: keyOnly,
      summary: "List a customer's connections",
      querystring: ListConnectionsQuery,
      response: { 200: ConnectionList, ...errorResponses(401, 403, 422, 429) },
    },
    handler: async (request) => ({ connections: await services.connections.listConnections(request.actor, request.query.customer_id) }),
  });

  app.post("/connections/:connection_id/token", {
    // The answer is a secret, and secrets are never stored for replay: no Idempotency-Key here.
    config: { scope: "connections:write", idempotency: false },
    schema: {
      tags,
      security: keyOnly,
      summary: "Create a connection token (15 minutes, one connection, one scope)",
      description: "scope link: opens the hosted link page (/link?connection_token=…). scope access: GET/PATCH /connections/{connection_id}.",
      params: ConnectionParams,
      body: TokenBody,
      response: { 201: TokenResponse, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429) },
    },
    handler: async (request, reply) => {
      reply.header("cache-control", "no-store");
      const token = await services.connections.issueToken(request.actor, request.params.connection_id, request.body.scope);
      return reply.status(201).send({ connection_token: token });
    },
  });

  app.get("/connections/:connection_id", {
    config: { scope: "connections:read", connectionToken: true },
    schema: {
      tags,
      security: keyAndToken,
      summary: "Get a connection",
      params: ConnectionParams,
      response: { 200: ConnectionSchema, ...errorResponses(401, 403, 404, 422, 429) },
    },
    handler: async (request) => services.connections.getConnection(request.connectionGrant),
  });

  app.patch("/connections/:connection_id", {
    config: { scope: "connections:write", connectionToken: true, idempotencyLookahead: (request) => services.connections.firstWriteStatement(request.connectionGrant) },
    schema: {
      tags,
      security: keyAndToken,
      summary: "Update Connection",
      description:
        "Changes customer_id, email and mobile, or disconnects (status \"disconnected\": terminal, the stored login is destroyed). " +
        "null clears email or mobile; null customer_id or status changes nothing. A disconnected connection's contact fields stay editable.",
      params: ConnectionParams,
      body: UpdateConnectionBody,
      response: { 200: ConnectionSchema, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429) },
    },
    handler: async (request) => services.connections.updateConnection(request.actor, request.connectionGrant, request.body),
  });

  app.delete("/connections/:connection_id", {
    config: { scope: "connections:write", connectionToken: true, idempotencyLookahead: (request) => services.connections.firstWriteStatement(request.connectionGrant) },
    schema: {
      tags,
      security: keyAndToken,
      summary: "Delete Connection",
      description: "Deletes the connection, its stored login and its purchases at once (no recovery window), and sends connection.deleted. 204, no body.",
      params: ConnectionParams,
      response: { 204: { type: "null", description: "Successful Response" }, ...errorResponses(400, 401, 403, 404, 422, 429) },
    },
    handler: async (request, reply) => {
      await services.connections.deleteConnection(request.actor, request.connectionGrant);
      return reply.status(204).send();
    },
  });

  app.get("/purchases", {
    config: { scope: "connections:read", connectionToken: true },
    schema: {
      tags,
      security: keyAndToken,
      summary: "Get Purchases",
      description: "The purchases of the connection the access token is for, newest purchase first. Pass the last purchase_id as starting_after for the next page.",
      querystring: ListPurchasesQuery,
      response: { 200: PurchaseList, ...errorResponses(401, 403, 404, 422, 429) },
    },
    handler: async (request) =>
      services.purchases.listPurchases(request.connectionGrant, { limit: request.query.limit, startingAfter: request.query.starting_after }),
  });

  app.get("/purchases/:purchase_id", {
    config: { scope: "connections:read", connectionToken: true },
    schema: {
      tags,
      security: keyAndToken,
      summary: "Get Purchase",
      params: PurchaseParams,
      response: { 200: PurchaseSchema, ...errorResponses(401, 403, 404, 422, 429) },
    },
    handler: async (request) => services.purchases.getPurchase(request.connectionGrant, request.params.purchase_id),
  });

  webhookDestinationRoutes(app, services);
  linkTokenRoutes(app, services);

  app.patch("/simulated-connections/:connection_id", {
    config: { scope: "connections:write" },
    schema: {
      tags,
      security: keyOnly,
      summary: "Simulate the retailer rejecting an active connection's login (for testing)",
      params: ConnectionParams,
      body: SimulatedStatusBody,
      response: { 200: ConnectionSchema, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429) },
    },
    handler: async (request) => services.connections.simulateUnauthenticated(request.actor, request.params.connection_id),
  });
}
