import type { FastifyInstance } from "fastify";
import { useIdempotency } from "../../idempotency/hook.ts";
import { entityScope } from "../../idempotency/store.ts";
import { clientAddress } from "../../ratelimit/auth-throttle.ts";
import { applyRateLimit } from "../../ratelimit/http.ts";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { basicCredentials } from "../../auth/basic-auth.ts";
import { assertScope, bearerToken } from "../../auth/guard.ts";
import type { Admission } from "../../services/admission.ts";
import { AuthenticationError, ValidationError } from "../../kernel/errors.ts";
import type { Services } from "../../compose.ts";
import { LOG_PAGE_SIZE_DEFAULT } from "../../services/integration-logs.ts";
import "../shared/actor.ts";
import { INVALID_CREDENTIALS, NO_CREDENTIALS, invalidIdError, splitPatchBody, useJsonApiErrors, sendJsonApiError } from "./errors.ts";
import {
  CreateLogBody,
  errorResponses,
  IntegrationLogSchema,
  LogEnvelope,
  LogList,
  LogsQuery,
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
export async function shopIntegrationsRoutes(root: FastifyInstance, { services, publicUrl }: { services: Services; publicUrl: string }) {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  useJsonApiErrors(app);
  app.addSchema(ShopIntegrationSchema);
  app.addSchema(JsonApiErrorsSchema);
  app.addSchema(IntegrationLogSchema);
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

  const logTags = ["shop integrations"];
  const linkHeader = {
    Link: {
      type: "string",
      description: 'The next page, when there is one (RFC 8288): `<…/logs?cursor=2023-03-01T01:02:00.000Z&page_size=25>; rel="next"`. Absent on the last page.',
    },
  } as const;
  /** `Link: <…?cursor=…&page_size=…>; rel="next"` (Sendcloud's pagination): the same path, the next cursor, the same page size. */
  const nextLink = (path: string, next: string | null, pageSize: number) =>
    next === null ? null : `<${publicUrl}${path}?${new URLSearchParams({ cursor: next, page_size: String(pageSize) }).toString()}>; rel="next"`;

  // Registered before /integrations/:id so that "logs" is never read as an id.
  app.get("/integrations/logs", {
    config: { scope: "integrations:read" },
    schema: {
      tags: logTags,
      security,
      summary: "List the exception logs of every shop integration",
      description:
        "Failed exchanges between the entity's shop integrations and their shops, newest first: a shop connector's failed provider calls " +
        "(health checks, token refreshes, proxied calls; secret header values [redacted], no request payload), Sendcloud-format webhooks that failed " +
        "for good, and entries POSTed by shipping software. Cursor pagination: follow the Link header.",
      querystring: LogsQuery,
      response: { 200: { ...LogList, headers: linkHeader }, ...errorResponses(400, 401, 403) },
    },
    handler: async (request, reply) => {
      const pageSize = request.query.page_size ?? LOG_PAGE_SIZE_DEFAULT;
      const page = await services.shopIntegrations.listLogs(request.actor, undefined, { before: cursorOf(request.query.cursor), pageSize });
      const link = nextLink("/api/v3/integrations/logs", page.next, pageSize);
      if (link) reply.header("link", link);
      return { data: page.data };
    },
  });

  app.get("/integrations/:id/logs", {
    config: { scope: "integrations:read" },
    schema: {
      tags: logTags,
      security,
      summary: "List a shop integration's exception logs",
      description: "As GET /api/v3/integrations/logs, for one integration.",
      params: IntegrationIdParams,
      querystring: LogsQuery,
      response: { 200: { ...LogList, headers: linkHeader }, ...errorResponses(400, 401, 403, 404) },
    },
    handler: async (request, reply) => {
      const pageSize = request.query.page_size ?? LOG_PAGE_SIZE_DEFAULT;
      const page = await services.shopIntegrations.listLogs(request.actor, request.params.id, { before: cursorOf(request.query.cursor), pageSize });
      const link = nextLink(`/api/v3/integrations/${request.params.id}/logs`, page.next, pageSize);
      if (link) reply.header("link", link);
      return { data: page.data };
    },
  });

  app.post("/integrations/:id/logs", {
    config: { scope: "integrations:write" },
    schema: {
      tags: logTags,
      security,
      summary: "Report an exception of a shop integration",
      description: "Shipping software reports a failed exchange with the shop; it shows in the integration's exception log. base_url is required; other fields are refused (extra_forbidden).",
      params: IntegrationIdParams,
      body: CreateLogBody,
      response: { 201: LogEnvelope, ...errorResponses(400, 401, 403, 404, 413, 415) },
    },
    handler: async (request, reply) => {
      const log = await services.shopIntegrations.createLog(request.actor, request.params.id, request.body);
      return reply.status(201).send({ data: log });
    },
  });

  app.get("/integrations/:id", {
    config: { scope: "integrations:read" },
    schema: { tags, security, summary: "Get a shop integration", params: IntegrationIdParams, response: { 200: IntegrationEnvelope, ...errorResponses(400, 401, 403, 404) } },
    handler: async (request) => ({ data: await services.shopIntegrations.getShopIntegration(request.actor, request.params.id) }),
  });

  app.patch("/integrations/:id", {
    config: { scope: "integrations:write", idempotencyLookahead: (request) => services.shopIntegrations.firstWriteStatement(request.actor, (request.params as { id: number }).id) },
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
  // The spec's two 401 examples (components.responses.Unauthorized), word for word; errors.ts gives each its title.
  if (credentials === "absent") throw new AuthenticationError("authentication_failed", NO_CREDENTIALS);
  const invalid = new AuthenticationError("authentication_failed", INVALID_CREDENTIALS);
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

/** The cursor parameter (validated as a date-time by the schema) as an instant. */
function cursorOf(cursor: string | undefined): Date | undefined {
  if (cursor === undefined) return undefined;
  const at = new Date(cursor);
  // The schema's date-time format admits what Date cannot hold (a leap second, 23:59:60): a 400, not a 500.
  if (Number.isNaN(at.getTime())) throw new ValidationError("cursor must be a date-time this server can read, e.g. 2026-01-31T12:00:00Z.", { param: "cursor" }, "invalid");
  return at;
}
