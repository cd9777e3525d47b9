import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Services } from "../../compose.ts";
import { REQUEST_LOGS_DESCRIPTION, RequestLogList, RequestLogsQuery, requestLogListOptions, requestLogPage } from "../shared/request-log-schemas.ts";
import { errorResponses } from "./schemas.ts";

/** GET /v1/request_logs — under the integrations surface's API-key hook (auth, rate limit, scope request_logs:read). */
export async function requestLogRoutes(root: FastifyInstance, { services }: { services: Services }) {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.get("/v1/request_logs", {
    config: { scope: "request_logs:read" },
    schema: {
      tags: ["request logs"],
      security: [{ bearerAuth: [] }],
      summary: "The entity's API request log, newest first",
      description: REQUEST_LOGS_DESCRIPTION,
      querystring: RequestLogsQuery,
      response: { 200: RequestLogList, ...errorResponses(400, 401, 403, 429) },
    },
    handler: async (request) => requestLogPage(await services.requestLog.list(request.actor.entityId, requestLogListOptions(request.query)), "/v1/request_logs"),
  });
}
