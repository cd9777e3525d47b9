import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Services } from "../../compose.ts";
import { AuditEventList, AuditEventsQuery, auditListOptions } from "../shared/audit-schemas.ts";
import { errorResponses } from "./schemas.ts";
import { listEnvelope } from "../shared/list-page.ts";

/** GET /v1/audit_events — under the integrations surface's API-key hook (auth, rate limit, scope). */
export async function auditRoutes(root: FastifyInstance, { services }: { services: Services }) {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.get("/v1/audit_events", {
    config: { scope: "audit:read" },
    schema: {
      tags: ["audit"],
      security: [{ bearerAuth: [] }],
      summary: "The entity's audit log, newest first",
      description:
        "Every write to the entity's records (connectors, credentials, shop integrations, connections, API keys): who (api_key, admin or system), " +
        "the action, the target, the request id and the non-secret fields that changed. Filter by target_type, target_id and created_gte/created_lte; " +
        "page with starting_after (older) and ending_before (newer).",
      querystring: AuditEventsQuery,
      response: { 200: AuditEventList, ...errorResponses(400, 401, 403, 429) },
    },
    handler: async (request) => listEnvelope(await services.audit.listAuditEvents(request.actor.entityId, auditListOptions(request.query)), "/v1/audit_events"),
  });
}
