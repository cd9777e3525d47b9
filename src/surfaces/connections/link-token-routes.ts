import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { CONNECTION_FIELD_RULES } from "../../services/connections.ts";
import { ULID_PATTERN } from "../../kernel/ids.ts";
import { LINK_TOKEN_DAYS } from "../../services/link-tokens.ts";
import type { Services } from "../../compose.ts";
import { Nullable } from "../shared/schema-types.ts";
import { errorResponses } from "./errors.ts";

const tags = ["connections"];
const security = [{ apiKeyHeader: [] }];

const customerId = Type.String({ minLength: 1, maxLength: CONNECTION_FIELD_RULES.customerIdMaxLength, description: "The customer the token links accounts for", examples: ["8a46e581-48ba-498a-9ad0-2ee72582e1af"] });

const LinkTokenSchema = Type.Object(
  {
    link_token_id: Type.String({ pattern: ULID_PATTERN, description: "A unique identifier for the link token", examples: ["01J51S0JYV6N7K1030CV1ZKSCA"] }),
    customer_id: Type.String(),
    expires_at: Type.String({ format: "date-time" }),
    revoked_at: Nullable(Type.String({ format: "date-time" })),
    last_used_at: Nullable(Type.String({ format: "date-time", description: "When the link page last checked a login with it" })),
    created_at: Type.String({ format: "date-time" }),
  },
  { $id: "LinkToken", additionalProperties: false },
);

const CreateBody = Type.Object(
  {
    customer_id: customerId,
    expires_in_days: Type.Optional(Type.Integer({ minimum: LINK_TOKEN_DAYS.min, maximum: LINK_TOKEN_DAYS.max, default: LINK_TOKEN_DAYS.default, description: "Lifetime in days, 1–365 (default 30)" })),
  },
  { additionalProperties: false },
);

const Created = Type.Intersect([
  Type.Ref("LinkToken"),
  Type.Object({ link_token: Type.String({ description: "Shown in this answer only. Open /link?link_token=… (optionally &retailer_id=… or &connection_id=…)." }) }),
]);

const Params = Type.Object({ link_token_id: Type.String({ pattern: ULID_PATTERN, description: "A link token id (ULID)" }) });

/** /link-tokens: durable, customer-scoped link tokens (issue 18 point 3), beside the 15-minute connection tokens. */
export function linkTokenRoutes(root: FastifyInstance, services: Services): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(LinkTokenSchema);

  app.post("/link-tokens", {
    // A replay of the same Idempotency-Key answers the token's record without its secret: secrets are never stored for replay.
    config: { scope: "connections:write", idempotencyOmitFields: ["link_token"] },
    schema: { tags, security, summary: "Create a link token (days to a year, one customer)", body: CreateBody, response: { 201: Created, ...errorResponses(400, 401, 403, 409, 413, 415, 422, 429) } },
    handler: async (request, reply) => {
      reply.header("cache-control", "no-store");
      return reply.status(201).send(await services.linkTokens.createLinkToken(request.actor, request.body));
    },
  });

  app.get("/link-tokens", {
    config: { scope: "connections:read" },
    schema: { tags, security, summary: "List a customer's link tokens", querystring: Type.Object({ customer_id: customerId }), response: { 200: Type.Object({ link_tokens: Type.Array(Type.Ref("LinkToken")) }), ...errorResponses(401, 403, 422, 429) } },
    handler: async (request) => ({ link_tokens: await services.linkTokens.listLinkTokens(request.actor, request.query.customer_id) }),
  });

  app.delete("/link-tokens/:link_token_id", {
    config: { scope: "connections:write" },
    schema: { tags, security, summary: "Revoke a link token", params: Params, response: { 200: Type.Ref("LinkToken"), ...errorResponses(400, 401, 403, 404, 422, 429) } },
    handler: async (request) => services.linkTokens.revokeLinkToken(request.actor, request.params.link_token_id),
  });
}
