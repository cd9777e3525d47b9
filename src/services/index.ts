import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Database } from "../db/index.ts";
import { registerPurgeJob } from "../jobs/purge.ts";
import { registerIdempotencyPurgeJob } from "../jobs/purge-idempotency.ts";
import { createJobQueue } from "../jobs/queue.ts";
import type { KeyRing } from "../vault/envelope.ts";
import { resolveKeyRing } from "../vault/key-ring.ts";
import { createVault } from "../vault/vault.ts";
import { createIdempotencyStore } from "../idempotency/store.ts";
import { rateLimiterFor } from "../ratelimit/limiter.ts";
import { createApiKeyService } from "./api-keys.ts";
import { createConnectorService } from "./connectors.ts";
import { createCredentialService } from "./credentials.ts";
import { createEntityService } from "./entities.ts";
import { createShopIntegrationService } from "./shop-integrations.ts";

export interface ServiceDeps {
  db: Database;
  clock: Clock;
  config: Config;
  /** The master key ring; resolved from config (PATCHBAY_MASTER_KEYS or the data dir's key file) when not given. */
  keyRing?: KeyRing;
}

/** The composition root of the service layer: every service, wired once. */
export function createServices({ db, clock, config, keyRing }: ServiceDeps) {
  const jobs = createJobQueue({ db, clock, pollMs: config.jobsPollMs, concurrency: config.jobsConcurrency });
  const vault = createVault({ db, ring: keyRing ?? resolveKeyRing(config).ring, clock });
  const entities = createEntityService({ db, clock });
  const apiKeys = createApiKeyService({ db, clock, entities, rateLimits: config.rateLimits });
  const connectors = createConnectorService({ db, clock, recoveryWindowDays: config.recoveryWindowDays, vault });
  const credentials = createCredentialService({ db, clock, vault, connectors });
  const shopIntegrations = createShopIntegrationService({ db, clock, connectors });
  const idempotency = createIdempotencyStore({ db, clock, leaseMs: config.idempotencyLeaseSeconds * 1000 });
  const rateLimiter = rateLimiterFor({ db, clock, redisUrl: config.redisUrl, redisKeyPrefix: config.redisKeyPrefix });
  registerPurgeJob(jobs, { connectors, everyMs: config.purgeIntervalMs });
  registerIdempotencyPurgeJob(jobs, { db, clock, everyMs: config.purgeIntervalMs });
  return { entities, apiKeys, connectors, credentials, shopIntegrations, idempotency, rateLimiter, vault, jobs };
}

export type Services = ReturnType<typeof createServices>;
