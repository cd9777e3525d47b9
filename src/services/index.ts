import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Database } from "../db/index.ts";
import { createJobQueue } from "../jobs/queue.ts";
import { createApiKeyService } from "./api-keys.ts";
import { createConnectorService } from "./connectors.ts";
import { createEntityService } from "./entities.ts";
import { createShopIntegrationService } from "./shop-integrations.ts";

export interface ServiceDeps {
  db: Database;
  clock: Clock;
  config: Config;
}

/** The composition root of the service layer: every service, wired once. */
export function createServices({ db, clock, config }: ServiceDeps) {
  const jobs = createJobQueue({ db, clock, pollMs: config.jobsPollMs, concurrency: config.jobsConcurrency });
  const entities = createEntityService({ db, clock });
  const apiKeys = createApiKeyService({ db, clock, entities });
  const connectors = createConnectorService({ db, clock, recoveryWindowDays: config.recoveryWindowDays });
  const shopIntegrations = createShopIntegrationService({ db, clock, connectors });
  return { entities, apiKeys, connectors, shopIntegrations, jobs };
}

export type Services = ReturnType<typeof createServices>;
