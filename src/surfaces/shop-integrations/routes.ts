import type { FastifyInstance } from "fastify";
import { useIdempotency } from "../../idempotency/hook.ts";
import { entityScope } from "../../idempotency/store.ts";
import { clientAddress } from "../../ratelimit/auth-throttle.ts";
import { applyRateLimit } from "../../ratelimit/http.ts";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { basicCredentials } from "../../auth/basic-auth.ts";
import { assertScope, bearerToken } from "../../auth/guard.ts";
import type { Admission } from "../../services/admission.ts";
import { AuthenticationError } from "../../kernel/errors.ts";
import type { Services } from "../../compose.ts";
import "../shared/actor.ts";
import { invalidIdError, splitPatchBody, useJsonApiErrors, sendJsonApiError } from "./errors.ts";
import {
  errorResponses,
  IntegrationEnvelope,
  IntegrationIdParams,
  IntegrationList,
  JsonApiErrorsSchema,
  ListQuery,
  ShopIntegrationSchema,
  UpdateIntegrationBody,
} from "./schemas.ts";

const tags = ["shop integrations"];
const security: Array<Record<string, string[]>> = [{ basicAuth: [] }, { oauth2ClientCredentials: ["api"] }];

/**
 * /api/v3/integrations… — seed 004. Register with `prefix: "/api/v3"`.
 * Every route runs the Basic-auth hook, then the key's rate limit; writes
 * honour Idempotency-Key (SPEC §3) with errors in this surface's JSON:API shape.
 */
export async function shopIntegrationsRoutes(root: FastifyInstance, { services }: { services: Services }) {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  useJsonApiErrors(app);
  app.addSchema(ShopIntegrationSchema);
  app.addSchema(JsonApiErrorsSchema);
  app.decorateRequest("actor", null as never);

  app.addHook("onRequest", async (request, reply) => {
    const scope = request.routeOptions.config.scope;
    if (!scope) return;
    const { actor, check } = await admitBasic(services, clientAddress(request.ip), request.headers.authorization);
    request.actor = { ...actor, requestId: request.id };
    applyRateLimit(check, actor.rateLimit, request, reply);
    assertScope(request.actor, scope);
  });
  useIdempotency(app, { store: services.idempotency, scopeOf: (request) => entityScope(request.actor), renderError: sendJsonApiError });

  // The validator would coerce "0x10", "1e3" or " 7" into integers; an id is written in decimal digits.
  app.addHook("preValidation", async (request) => {
    const { id } = request.params as { id?: string };
    if (id !== undefined && !/^[0-9]+$/.test(id)) throw invalidIdError();
  });

  app.get("/integrations", {
    config: { scope: "integrations:read" },
    schema: {
      tags,
      security,
      summary: "List the entity's shop integrations",
      description: "Shop-type connectors (shopify, amazon, ebay) that are not disconnected. A test key sees sandbox ones only.",
      querystring: ListQuery,
      response: { 200: IntegrationList, ...errorResponses(400, 401, 403) },
    },
    handler: async (request) => ({ data: await services.shopIntegrations.listShopIntegrations(request.actor, request.query.sort) }),
  });

  app.get("/integrations/:id", {
    config: { scope: "integrations:read" },
    schema: { tags, security, summary: "Get a shop integration", params: IntegrationIdParams, response: { 200: IntegrationEnvelope, ...errorResponses(400, 401, 403, 404) } },
    handler: async (request) => ({ data: await services.shopIntegrations.getShopIntegration(request.actor, request.params.id) }),
  });

  app.patch("/integrations/:id", {
    config: { scope: "integrations:write" },
    // Shape errors are collected, not thrown, so that the rules checked against the merged record are reported with them.
    attachValidation: true,
    schema: {
      tags,
      security,
      summary: "Update a shop integration",
      description:
        "Partial update. webhook_url is required when webhook_active is true, and service_point_enabled needs at least one carrier — both checked against the merged record. " +
        "Every violated rule is listed. Unknown fields answer unknown_field.",
      params: IntegrationIdParams,
      body: UpdateIntegrationBody,
      response: { 204: { type: "null", description: "No content" }, ...errorResponses(400, 401, 403, 404, 413, 415) },
    },
    handler: async (request, reply) => {
      const { patch, rejected } = splitPatchBody(request.body, request.validationError);
      await services.shopIntegrations.updateShopIntegration(request.actor, request.params.id, patch, rejected);
      return reply.status(204).send();
    },
  });

  app.delete("/integrations/:id", {
    config: { scope: "integrations:write" },
    schema: {
      tags,
      security,
      summary: "Disconnect a shop integration",
      description: "Disconnects the connector (as DELETE /v1/integrations/{type}): restorable with POST /v1/integrations/{type} within the recovery window, with the same id.",
      params: IntegrationIdParams,
      response: { 204: { type: "null", description: "No content" }, ...errorResponses(400, 401, 403, 404) },
    },
    handler: async (request, reply) => {
      await services.shopIntegrations.disconnectShopIntegration(request.actor, request.params.id);
      return reply.status(204).send();
    },
  });
}

/** HTTP Basic: user = the key's public_key, password = the key itself; the request is counted against the key's limit. */
async function admitBasic(services: Services, address: string, header: string | undefined): Promise<Admission> {
  // The spec's second scheme, OAuth2ClientCreds: a bearer token from POST /oauth2/token (scope api).
  const token = bearerToken(header);
  if (token !== null) {
    try {
      return await services.admission.admitAccessToken(address, token);
    } catch (err) {
      if (err instanceof AuthenticationError) throw new AuthenticationError("authentication_failed", "Invalid token.");
      throw err;
    }
  }
  const credentials = basicCredentials(header);
  if (credentials === "absent") throw new AuthenticationError("authentication_failed", "Authentication credentials were not provided.");
  const invalid = new AuthenticationError("authentication_failed", "Invalid username/password.");
  if (credentials === "malformed") {
    services.authThrottle.refuseIfThrottled(address);
    throw await services.authThrottle.failed(address, invalid);
  }
  try {
    return await services.admission.admit(address, credentials.password, credentials.user);
  } catch (err) {
    if (err instanceof AuthenticationError) throw invalid;
    throw err;
  }
}
