import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Database } from "../db/index.ts";
import { registerHealthCheckJobs } from "../jobs/health-checks.ts";
import { createJobQueue } from "../jobs/queue.ts";
import { registerTokenRefreshJobs } from "../jobs/refresh-tokens.ts";
import { createProviderClient, type ProviderClient, type ProviderLogger } from "../providers/client.ts";
import { createShopifyApi } from "../providers/shopify.ts";
import { createApiKeyService } from "./api-keys.ts";
import { createConnectorHealth } from "./connector-health.ts";
import { createConnectorService } from "./connectors.ts";
import { createEntityService } from "./entities.ts";
import { createShopIntegrationService } from "./shop-integrations.ts";
import { createShopifyGrants, type GrantVault } from "./shopify-grants.ts";
import { createShopifyOAuthService } from "./shopify-oauth.ts";

export interface ServiceDeps {
  db: Database;
  clock: Clock;
  config: Config;
  /** Where provider calls are logged (provider, method, path, status, latency; never a secret). */
  logger?: ProviderLogger;
  /** Tests may hand in a client with a stubbed fetch or sleep. */
  providers?: ProviderClient;
  // TODO(vault): required once the vault (branch `vault`) is in main; main.ts then passes it.
  vault?: GrantVault;
}

const silent: ProviderLogger = { info() {}, warn() {} };

/** The composition root of the service layer: every service, wired once. */
export function createServices({ db, clock, config, logger = silent, providers, vault }: ServiceDeps) {
  const client = providers ?? createProviderClient({ config, logger });
  const { clientId, clientSecret } = config.shopify;
  const shopify = clientId && clientSecret ? createShopifyApi({ client, clientId, clientSecret }) : null;

  const jobs = createJobQueue({ db, clock, pollMs: config.jobsPollMs, concurrency: config.jobsConcurrency });
  const entities = createEntityService({ db, clock });
  const apiKeys = createApiKeyService({ db, clock, entities });
  const shopifyGrants = createShopifyGrants({ db, clock, shopify, vault: vault ?? null });
  const shopifyOAuth = createShopifyOAuthService({ db, clock, config, shopify, grants: shopifyGrants });
  const connectors = createConnectorService({ db, clock, recoveryWindowDays: config.recoveryWindowDays, oauth: shopifyOAuth });
  const health = createConnectorHealth({
    db,
    clock,
    providers: client,
    shopify,
    grants: shopifyGrants,
    connectors,
    // TODO(vault): credentials.openCredentials once the vault's credential service is in main.
    openCredentials: async (c) => (vault ? vault.openSecret<Record<string, string>>(db, { entityId: c.entity_id, ownerId: c.id, purpose: "connector.credentials" }) : null),
    healthIntervalMs: config.healthCheckIntervalMinutes * 60_000,
  });
  const shopIntegrations = createShopIntegrationService({ db, clock, connectors });
  registerTokenRefreshJobs(jobs, { db, grants: shopifyGrants, oauth: shopifyOAuth });
  registerHealthCheckJobs(jobs, { db, health });
  return { entities, apiKeys, connectors, shopIntegrations, jobs, shopifyOAuth, shopifyGrants, health };
}

export type Services = ReturnType<typeof createServices>;
