import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Database } from "../db/index.ts";
import { createIdempotencyStore } from "../idempotency/store.ts";
import { rateLimiterFor } from "../ratelimit/limiter.ts";
import { createApiKeyService } from "./api-keys.ts";
import { createConnectorService } from "./connectors.ts";
import { createEntityService } from "./entities.ts";

export interface ServiceDeps {
  db: Database;
  clock: Clock;
  config: Config;
}

/** The composition root of the service layer: every service, wired once. */
export function createServices({ db, clock, config }: ServiceDeps) {
  const entities = createEntityService({ db, clock });
  const apiKeys = createApiKeyService({ db, clock, entities, rateLimits: config.rateLimits });
  const connectors = createConnectorService({ db, clock, recoveryWindowDays: config.recoveryWindowDays });
  const idempotency = createIdempotencyStore({ db, clock, leaseMs: config.idempotencyLeaseSeconds * 1000 });
  const rateLimiter = rateLimiterFor({ db, clock, redisUrl: config.redisUrl, redisKeyPrefix: config.redisKeyPrefix });
  return { entities, apiKeys, connectors, idempotency, rateLimiter };
}

export type Services = ReturnType<typeof createServices>;
