import type { FastifyInstance } from "fastify";
import { assertScope, bearerToken } from "../../auth/guard.ts";
import { clientAddress } from "../../ratelimit/auth-throttle.ts";
import { applyRateLimit } from "../../ratelimit/http.ts";
import type { ConnectionGrant } from "../../services/connections.ts";
import { AuthenticationError } from "../../kernel/errors.ts";
import type { Services } from "../../compose.ts";
import "../shared/actor.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** Set when the route needs a connection token: the access it grants. */
    connectionGrant: ConnectionGrant;
  }
  interface FastifyContextConfig {
    /** The route acts on one connection and needs `Authorization: Bearer <access token>` for it. */
    connectionToken?: boolean;
  }
}

/**
 * The connections surface's authentication, before any body is read: the
 * entity's API key in `x-api-key` (its rate limit, the route's scope), then, on
 * per-connection routes, a connection token of scope access for the
 * connection named in the path. A failure of either counts against the client
 * address (services.authThrottle).
 */
export function useConnectionsAuth(app: FastifyInstance, services: Services): void {
  app.decorateRequest("actor", null as never);
  app.decorateRequest("connectionGrant", null as never);

  app.addHook("onRequest", async (request, reply) => {
    const { scope, connectionToken } = request.routeOptions.config;
    if (!scope) return;
    const key = request.headers["x-api-key"];
    if (typeof key !== "string" || key.trim() === "") {
      throw new AuthenticationError("missing_api_key", "No API key was sent.", "Send the entity's API key in the x-api-key header.");
    }
    const address = clientAddress(request.ip);
    let admitted;
    try {
      // Every request of a known key counts, whatever it is refused for afterwards.
      admitted = await services.admission.admit(address, key.trim());
    } catch (err) {
      if (!(err instanceof AuthenticationError)) throw err;
      throw new AuthenticationError("invalid_api_key", "The x-api-key header does not hold a valid API key: it is malformed, unknown or revoked.");
    }
    request.actor = { ...admitted.actor, requestId: request.id };
    applyRateLimit(admitted.check, admitted.actor.rateLimit, request, reply);
    assertScope(request.actor, scope);
    if (connectionToken) {
      // Without a connection in the path (GET /purchases…) the token's own connection is meant.
      const { connection_id } = request.params as { connection_id?: string };
      const presented = bearerToken(request.headers.authorization);
      const authorize = () => services.connections.authorizeAccess(request.actor, connection_id ?? null, presented);
      // A token that was sent and fails counts against the address, as a bad key does; a missing one is not a guess.
      request.connectionGrant = presented === null ? authorize() : await services.authThrottle.guard(address, authorize);
    }
  });
}
