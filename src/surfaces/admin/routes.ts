import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { bearerToken } from "../../auth/guard.ts";
import type { AdminTokenVerifier } from "../../auth/admin-token.ts";
import { SCOPES } from "../../auth/scopes.ts";
import { clientAddress } from "../../ratelimit/auth-throttle.ts";
import { adminActor } from "../../services/audit.ts";
import { AuthenticationError } from "../../kernel/errors.ts";
import type { Services } from "../../compose.ts";
import { useIdempotency } from "../../idempotency/hook.ts";
import { REQUEST_LOGS_DESCRIPTION, RequestLogList, RequestLogsQuery, requestLogListOptions, requestLogPage } from "../shared/request-log-schemas.ts";
import { AuditEventList, AuditEventsQuery, auditListOptions } from "../shared/audit-schemas.ts";
import { FLAT_ERROR_SCHEMA_ID, sendFlatError, useFlatErrors } from "../shared/flat-errors.ts";
import { Nullable, StringEnum, Timestamp, Uuid } from "../shared/schema-types.ts";

const tags = ["admin"];
const security = [{ adminAuth: [] }];

const EntitySchema = Type.Object({ id: Uuid, name: Type.String(), created_at: Timestamp });
const ApiKeySchema = Type.Object({
  id: Uuid,
  entity_id: Uuid,
  name: Type.String(),
  mode: StringEnum(["live", "test"] as const),
  scopes: Type.Array(Type.String()),
  public_key: Type.String({ description: "Non-secret key id; the HTTP Basic user name on /api/v3" }),
  key_prefix: Type.String({ description: "The first characters of the key, to recognise it" }),
  created_at: Timestamp,
  revoked_at: Nullable(Timestamp),
  last_used_at: Nullable(Type.String({ format: "date-time", description: "The key's last request (RFC 3339, UTC), from the request log's batches: it lags by up to PATCHBAY_REQUEST_LOG_FLUSH_MS; null: never used" })),
  rate_limit: Type.Object(
    {
      per_minute: Type.Integer({ description: "Requests per sliding minute" }),
      burst: Type.Integer({ description: "Requests in any one second" }),
    },
    { description: "The limit in force: the key's own, or its mode's default" },
  ),
  rate_limit_tier: StringEnum(["test", "standard", "elevated", "custom"] as const, {
    description: "Which of docs.arcuserp.com/concepts/rate-limits' tiers rate_limit is: test (a test key's default), standard or elevated (a live key's), custom (an override of its own)",
  }),
});
const NewApiKeySchema = Type.Object({
  ...ApiKeySchema.properties,
  key: Type.String({ description: "The secret key. Shown in this response only; store it now." }),
});
const VaultStatusSchema = Type.Object({
  newest_key_id: Type.String({ description: "The master key new secrets are sealed under (first in PATCHBAY_MASTER_KEYS)" }),
  configured_key_ids: Type.Array(Type.String()),
  secrets_by_key: Type.Array(Type.Object({ key_id: Type.String(), secrets: Type.Integer(), configured: Type.Boolean() })),
  remaining: Type.Integer({ description: "Secrets under an older configured key: what a rewrap still has to do" }),
  unreadable: Type.Integer({ description: "Secrets under a key this server does not have" }),
});
const AdminError = Type.Ref(FLAT_ERROR_SCHEMA_ID);
const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, AdminError]));

/** /admin/v1… — entities, their API keys, and the vault's master keys, for the operator. */
export async function adminRoutes(root: FastifyInstance, { services, adminToken }: { services: Services; adminToken: AdminTokenVerifier }) {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  useFlatErrors(app);

  app.addHook("onRequest", async (request) => {
    const token = bearerToken(request.headers.authorization);
    if (!token) throw new AuthenticationError("missing_admin_token", "No admin token was sent.", "Send `Authorization: Bearer <admin token>` (PATCHBAY_ADMIN_TOKEN, or the admin-token file in the data dir).");
    // The token is checked in memory: only a failure asks the shared store (services.authThrottle).
    await services.authThrottle.guard(clientAddress(request.ip), () => {
      if (!adminToken.verify(token)) throw new AuthenticationError("invalid_admin_token", "The admin token is not valid.", "Use PATCHBAY_ADMIN_TOKEN, or the admin-token file in the data dir.");
    });
  });
  // One operator, one scope of keys.
  useIdempotency(app, { store: services.idempotency, scopeOf: () => "admin", renderError: sendFlatError });

  app.post("/admin/v1/entities", {
    schema: {
      tags,
      security,
      summary: "Create an entity",
      body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
      response: { 201: EntitySchema, ...errors(400, 401) },
    },
    handler: async (request, reply) => reply.status(201).send(await services.entities.createEntity(request.body.name, adminActor(request.id))),
  });

  app.get("/admin/v1/entities", {
    schema: { tags, security, summary: "List entities", response: { 200: Type.Object({ data: Type.Array(EntitySchema) }), ...errors(401) } },
    handler: async () => ({ data: await services.entities.listEntities() }),
  });

  app.post("/admin/v1/entities/:entity_id/api-keys", {
    // The answer holds the new secret, which must never be stored: no Idempotency-Key here.
    config: { idempotency: false },
    schema: {
      tags,
      security,
      summary: "Create an API key (the secret is shown once)",
      params: Type.Object({ entity_id: Uuid }),
      body: Type.Object(
        {
          name: Type.String({ minLength: 1, maxLength: 200 }),
          mode: StringEnum(["live", "test"] as const),
          scopes: Type.Array(Type.String({ description: SCOPES.join(", ") }), { minItems: 1, maxItems: SCOPES.length }),
          rate_limit_tier: Type.Optional(
            StringEnum(["standard", "elevated"] as const, {
              description: "Live keys: standard (300/min, burst 50, the default) or elevated (1,200/min, burst 100). Test keys have the test tier (60/min, burst 10) only.",
            }),
          ),
          rate_limit: Type.Optional(
            Type.Object(
              {
                per_minute: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: "Requests per sliding minute" })),
                burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: "Requests in any one second (≤ per_minute)" })),
              },
              { additionalProperties: false, minProperties: 1, description: "Overrides the mode's default limit (live 300/min burst 50, test 60/min burst 10, unless configured otherwise)" },
            ),
          ),
        },
        { additionalProperties: false },
      ),
      response: { 201: NewApiKeySchema, ...errors(400, 401, 404) },
    },
    handler: async (request, reply) => {
      reply.header("cache-control", "no-store");
      return reply.status(201).send(await services.apiKeys.createApiKey(request.params.entity_id, request.body, adminActor(request.id)));
    },
  });

  app.get("/admin/v1/entities/:entity_id/api-keys", {
    schema: { tags, security, summary: "List an entity's API keys (never the secrets)", params: Type.Object({ entity_id: Uuid }), response: { 200: Type.Object({ data: Type.Array(ApiKeySchema) }), ...errors(400, 401, 404) } },
    handler: async (request) => ({ data: await services.apiKeys.listApiKeys(request.params.entity_id) }),
  });

  app.delete("/admin/v1/api-keys/:id", {
    schema: { tags, security, summary: "Revoke an API key, at once, in every process", params: Type.Object({ id: Uuid }), response: { 200: Type.Object({ data: ApiKeySchema }), ...errors(400, 401, 404) } },
    handler: async (request) => ({ data: await services.apiKeys.revokeApiKey(request.params.id, adminActor(request.id)) }),
  });

  app.post("/admin/v1/api-keys/:id/roll", {
    // The answer holds the new secret, which must never be stored: no Idempotency-Key here.
    config: { idempotency: false },
    schema: {
      tags,
      security,
      summary: "Roll an API key: a new secret now, the old one valid for the overlap",
      params: Type.Object({ id: Uuid }),
      body: Type.Object(
        {
          overlap_seconds: Type.Integer({ minimum: 0, maximum: 604_800, description: "How long the old secret keeps working (0: it stops at once; at most 7 days)" }),
        },
        { additionalProperties: false },
      ),
      response: { 201: NewApiKeySchema, ...errors(400, 401, 404, 409) },
    },
    handler: async (request, reply) => {
      reply.header("cache-control", "no-store");
      return reply.status(201).send(await services.apiKeys.rollApiKey(request.params.id, request.body.overlap_seconds, adminActor(request.id)));
    },
  });

  app.get("/admin/v1/entities/:entity_id/audit_events", {
    schema: {
      tags,
      security,
      summary: "An entity's audit log, newest first (what GET /v1/audit_events answers the entity's own keys)",
      params: Type.Object({ entity_id: Uuid }),
      querystring: AuditEventsQuery,
      response: { 200: AuditEventList, ...errors(400, 401, 404) },
    },
    handler: async (request) => {
      const { entity_id } = request.params;
      await services.entities.requireEntity(entity_id);
      const page = await services.audit.listAuditEvents(entity_id, auditListOptions(request.query));
      return { object: "list" as const, data: page.data, has_more: page.hasMore, url: `/admin/v1/entities/${entity_id}/audit_events` };
    },
  });

  app.get("/admin/v1/entities/:entity_id/request_logs", {
    schema: {
      tags,
      security,
      summary: "An entity's API request log, newest first (what GET /v1/request_logs answers the entity's own keys)",
      description: REQUEST_LOGS_DESCRIPTION,
      params: Type.Object({ entity_id: Uuid }),
      querystring: RequestLogsQuery,
      response: { 200: RequestLogList, ...errors(400, 401, 404) },
    },
    handler: async (request) => {
      const { entity_id } = request.params;
      await services.entities.requireEntity(entity_id);
      return requestLogPage(await services.requestLog.list(entity_id, requestLogListOptions(request.query)), `/admin/v1/entities/${entity_id}/request_logs`);
    },
  });

  app.get("/admin/v1/vault", {
    schema: { tags, security, summary: "What is sealed under which master key (never any key or secret)", response: { 200: VaultStatusSchema, ...errors(401) } },
    handler: async () => services.vault.status(),
  });

  app.post("/admin/v1/vault/rewrap", {
    schema: {
      tags,
      security,
      summary: "Rewrap one batch of data keys under the newest master key",
      description:
        "Master-key rotation, online: rewraps up to batch_size data keys that are under an older configured key (rows locked with SKIP LOCKED, " +
        "so it is safe beside running servers) and answers the progress. Call again until remaining is 0; `npx patchbay vault rewrap` does that.",
      body: Type.Object({ batch_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ rewrapped: Type.Integer(), ...VaultStatusSchema.properties }), ...errors(400, 401, 409) },
    },
    preValidation: async (request) => {
      if (request.body === undefined) request.body = {};
    },
    handler: async (request) => services.vault.rewrapBatch(request.body.batch_size ?? 100),
  });
}
