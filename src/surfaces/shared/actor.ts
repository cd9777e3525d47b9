import type { Scope } from "../../auth/scopes.ts";
import type { ApiKeyActor } from "../../auth/actor.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The authenticated API key; set by the surface's auth hook before any handler runs. */
    actor: ApiKeyActor;
  }
  interface FastifyContextConfig {
    /** The scope a route needs; checked by the surface's auth hook. */
    scope?: Scope;
  }
}

export {};
