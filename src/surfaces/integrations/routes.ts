import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ConnectorType } from "../../catalog/index.ts";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { assertScope, bearerToken } from "../../auth/guard.ts";
import { Type } from "@sinclair/typebox";
import { catalogEntries } from "../../catalog/entry.ts";
import { useIdempotency } from "../../idempotency/hook.ts";
import { entityScope } from "../../idempotency/store.ts";
import { clientAddress } from "../../ratelimit/auth-throttle.ts";
import { applyRateLimit } from "../../ratelimit/http.ts";
import { AuthenticationError } from "../../kernel/errors.ts";
import { assertNoForbiddenFields } from "../../services/connectors.ts";
import type { Services } from "../../compose.ts";
import "../shared/actor.ts";
import { sendFlatError, useFlatErrors } from "../shared/flat-errors.ts";
import { listEnvelope, pageOptions } from "../shared/list-page.ts";
import { arrayPage } from "../../services/pagination.ts";
import { auditRoutes } from "./audit-routes.ts";
import { requestLogRoutes } from "./request-log-routes.ts";
import { shopifyRoutes } from "./shopify-routes.ts";
import { verifyRoutes } from "./verify-routes.ts";
import { proxyRoutes } from "./proxy-routes.ts";
import { webhookRoutes } from "./webhook-routes.ts";
import {
  CatalogList,
  CatalogQuery,
  ConnectorEnvelope,
  ConnectorList,
  ConnectorRowSchema,
  ConnectorTypeParams,
  CreateConnectorBody,
  CredentialsBody,
  errorResponses,
  ListQuery,
  OAuthRequired,
  UpdateConnectorBody,
  WebhookSecretBody,
} from "./schemas.ts";

const tags = ["integrations"];
const security = [{ bearerAuth: [] }];

/** /v1/integrations… — seeds 000, 001, 002. Parse, call the connector service, shape the answer. */
export async function integrationsRoutes(root: FastifyInstance, { services }: { services: Services }) {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  useFlatErrors(app);
  app.addSchema(ConnectorRowSchema);
  app.decorateRequest("actor", null as never);

  app.addHook("onRequest", async (request, reply) => {
    const scope = request.routeOptions.config.scope;
    if (!scope) return;
    const token = bearerToken(request.headers.authorization);
    if (!token) {
      throw new AuthenticationError("missing_api_key", "No API key was sent.", "Send `Authorization: Bearer ark_live_ent_…` (or ark_test_ent_…).");
    }
    // Every request of a known key counts, whatever it is refused for afterwards.
    const { actor, check } = await services.admission.admit(clientAddress(request.ip), token);
    request.actor = { ...actor, requestId: request.id };
    applyRateLimit(check, actor.rateLimit, request, reply);
    assertScope(request.actor, scope);
  });
  useIdempotency(app, { store: services.idempotency, scopeOf: (request) => entityScope(request.actor), renderError: sendFlatError });
  // A keyed POST or PATCH of a connector claims its key and locks the row in one round trip.
  const firstWrite = (request: FastifyRequest) => services.connectors.firstWriteStatement(request.actor, (request.params as { connector_type: ConnectorType }).connector_type);

  app.get("/v1/integrations/catalog", {
    config: { scope: "integrations:read" },
    schema: { tags, security, summary: "The connector types and what each needs", querystring: CatalogQuery, response: { 200: CatalogList, ...errorResponses(400, 401, 403) } },
    handler: async (request) =>
      listEnvelope(arrayPage(catalogEntries(), (e) => e.connector_type, pageOptions(request.query)), "/v1/integrations/catalog"),
  });

  app.get("/v1/integrations", {
    config: { scope: "integrations:read" },
    schema: { tags, security, summary: "List connectors, newest first", querystring: ListQuery, response: { 200: ConnectorList, ...errorResponses(400, 401, 403) } },
    handler: async (request) => listEnvelope(await services.connectors.listConnectors(request.actor, pageOptions(request.query)), "/v1/integrations"),
  });

  app.get("/v1/integrations/:connector_type", {
    config: { scope: "integrations:read" },
    schema: { tags, security, summary: "Get a connector", params: ConnectorTypeParams, response: { 200: ConnectorEnvelope, ...errorResponses(400, 401, 403, 404) } },
    handler: async (request) => ({ data: await services.connectors.getConnector(request.actor, request.params.connector_type) }),
  });

  app.post("/v1/integrations/:connector_type", {
    config: { scope: "integrations:write", idempotencyLookahead: firstWrite },
    schema: {
      tags,
      security,
      summary: "Create or initiate a connector connection",
      description:
        "Mode A: creates the connector (201, the bare row). Within the recovery window after a DELETE, restores it with its prior credentials (200). " +
        "Shopify (Mode B): answers 200 integration_oauth_required. Credentials are never accepted here (422 forbidden_field).",
      params: ConnectorTypeParams,
      body: CreateConnectorBody,
      response: { 200: Type.Union([Type.Ref("ConnectorRow"), OAuthRequired]), 201: Type.Ref("ConnectorRow"), ...errorResponses(400, 401, 403, 409, 413, 415, 422, 501) },
    },
    preValidation: async (request) => {
      // A POST with no body at all means "all defaults".
      if (request.body === undefined) request.body = {};
      // Forbidden fields answer 422 before the schema's generic 400 for unknown fields (seed 001).
      assertNoForbiddenFields(request.body);
    },
    handler: async (request, reply) => {
      const result = await services.connectors.createConnector(request.actor, request.params.connector_type, request.body);
      if (result.outcome === "oauth_required") {
        const { object, oauth_url, expires_at, shop } = result.oauth;
        const hint = `Open oauth_url in a browser and approve the app in ${shop} before ${expires_at}; then poll GET /v1/integrations/shopify until is_active is true.`;
        return reply.status(200).send({ object, oauth_url, expires_at, hint });
      }
      return reply.status(result.outcome === "created" ? 201 : 200).send(result.row);
    },
  });

  app.patch("/v1/integrations/:connector_type", {
    config: { scope: "integrations:write", idempotencyLookahead: firstWrite },
    schema: {
      tags,
      security,
      summary: "Update editable fields on a connector",
      description: `Allowed fields: display_name, mode, is_active, config, ship_from_*, seller_id, bank_account_id. Any other field answers 400 validation_failed.`,
      params: ConnectorTypeParams,
      body: UpdateConnectorBody,
      response: { 200: ConnectorEnvelope, ...errorResponses(400, 401, 403, 404, 409, 413, 415) },
    },
    handler: async (request) => ({ data: await services.connectors.updateConnector(request.actor, request.params.connector_type, request.body) }),
  });

  app.delete("/v1/integrations/:connector_type", {
    config: { scope: "integrations:write" },
    schema: {
      tags,
      security,
      summary: "Disconnect a connector (credentials kept sealed for the recovery window)",
      params: ConnectorTypeParams,
      response: { 200: ConnectorEnvelope, ...errorResponses(400, 401, 403, 404) },
    },
    handler: async (request) => ({ data: await services.connectors.disconnectConnector(request.actor, request.params.connector_type) }),
  });

  // Write-only secrets (SPEC §2, §6): each answers the row, which shows only whether a secret exists and the key names.
  app.put("/v1/integrations/:connector_type/credentials", {
    config: { scope: "integrations:write" },
    schema: {
      tags,
      security,
      summary: "Store the connector's credentials (write-only)",
      description:
        "Replaces the stored credentials. Keys must be the type's credential_keys (catalog), all required_credential_keys present; an unknown key is 400 validation_failed. " +
        "Values are sealed in the vault and never returned: the row shows has_credentials_secret_arn and credentials_masked (key names, sorted). " +
        "Idempotency-Key is honoured as on every write: a retry with the key replays the stored (masked) row and stores nothing again; the idempotency store keeps only the row, never the values.",
      params: ConnectorTypeParams,
      body: CredentialsBody,
      response: { 200: ConnectorEnvelope, ...errorResponses(400, 401, 403, 404, 409, 413, 415) },
    },
    handler: async (request) => ({ data: await services.credentials.putCredentials(request.actor, request.params.connector_type, request.body) }),
  });

  app.delete("/v1/integrations/:connector_type/credentials", {
    config: { scope: "integrations:write" },
    schema: {
      tags,
      security,
      summary: "Destroy the connector's stored credentials",
      params: ConnectorTypeParams,
      response: { 200: ConnectorEnvelope, ...errorResponses(400, 401, 403, 404, 409) },
    },
    handler: async (request) => ({ data: await services.credentials.deleteCredentials(request.actor, request.params.connector_type) }),
  });

  app.put("/v1/integrations/:connector_type/webhook-secret", {
    config: { scope: "integrations:write" },
    schema: {
      tags,
      security,
      summary: "Store the provider's webhook signing secret (write-only)",
      description:
        "Sealed in the vault and never returned: the row shows has_webhook_secret. " +
        "Idempotency-Key is honoured as on every write: a retry with the key replays the stored (masked) row; the idempotency store keeps only the row, never the secret.",
      params: ConnectorTypeParams,
      body: WebhookSecretBody,
      response: { 200: ConnectorEnvelope, ...errorResponses(400, 401, 403, 404, 409, 413, 415) },
    },
    handler: async (request) => ({ data: await services.credentials.putWebhookSecret(request.actor, request.params.connector_type, request.body.webhook_secret) }),
  });

  app.delete("/v1/integrations/:connector_type/webhook-secret", {
    config: { scope: "integrations:write" },
    schema: {
      tags,
      security,
      summary: "Destroy the connector's stored webhook signing secret",
      params: ConnectorTypeParams,
      response: { 200: ConnectorEnvelope, ...errorResponses(400, 401, 403, 404, 409) },
    },
    handler: async (request) => ({ data: await services.credentials.deleteWebhookSecret(request.actor, request.params.connector_type) }),
  });

  // Shopify's OAuth callback, credential verification, the audit log and webhook endpoints, in their own files (same hooks and error shape).
  await app.register(shopifyRoutes, { services });
  await app.register(verifyRoutes, { services });
  // The provider proxy and the provider-call log (SPEC §9).
  await app.register(proxyRoutes, { services });
  await app.register(auditRoutes, { services });
  await app.register(requestLogRoutes, { services });
  // /v1/webhook_endpoints: the same API-key auth, rate limits, idempotency and error shape.
  await app.register(webhookRoutes, { services });
}
