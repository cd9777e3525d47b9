import type { FastifyInstance } from "fastify";
import type { RequestLog } from "../../services/request-logs.ts";
import "./actor.ts";

/**
 * The API request log's one hook (issue 20, item 6): when a request that an
 * entity's key was admitted for has been answered, one in-memory append
 * (services/request-logs.ts writes the batch). A callback-style onResponse
 * hook with no await: no promise per request. Requests no key was recognised
 * for (401, unknown routes, admin, probes) carry no actor and are skipped.
 * Registered on the root before the surfaces, so it covers all of them.
 */
export function useRequestLog(app: FastifyInstance, log: Pick<RequestLog, "record">): void {
  app.addHook("onResponse", (request, reply, done) => {
    const actor = request.actor;
    if (actor) {
      log.record({
        entityId: actor.entityId,
        keyId: actor.keyId,
        mode: actor.mode,
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        latencyMs: reply.elapsedTime,
        clientIp: request.ip,
        requestId: request.id,
      });
    }
    done();
  });
}
