import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Services } from "../../compose.ts";
import { ConnectorEnvelope, ConnectorTypeParams, errorResponses } from "./schemas.ts";

/** POST /v1/integrations/{type}/verify — under the integrations surface's API-key hook. */
export async function verifyRoutes(root: FastifyInstance, { services }: { services: Services }) {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.post("/v1/integrations/:connector_type/verify", {
    config: { scope: "integrations:write" },
    schema: {
      tags: ["integrations"],
      security: [{ bearerAuth: [] }],
      summary: "Check the stored credentials against the provider now",
      description:
        "Makes one cheap, read-only call to the provider with the stored credentials (Stripe GET /v1/account, Postmark GET /server, OpenAI GET /v1/models, … — see the README) " +
        "and records the outcome on the row: last_sync_at, sync_status (ok | auth_failed | unreachable) and sync_error. 409 no_credentials when there is nothing to check.",
      params: ConnectorTypeParams,
      response: { 200: ConnectorEnvelope, ...errorResponses(400, 401, 403, 404, 409) },
    },
    handler: async (request) => ({ data: await services.health.verifyConnector(request.actor, request.params.connector_type) }),
  });
}
