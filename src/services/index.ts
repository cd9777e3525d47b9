import { createConnectionTokenSigner, resolveConnectionTokenKeys } from "../auth/connection-tokens.ts";
import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Database } from "../db/index.ts";
import { createRetailerGateway } from "../providers/retailers.ts";
import { registerCheckConnectionsJob } from "../jobs/check-connections.ts";
import { createJobQueue } from "../jobs/queue.ts";
import { createApiKeyService } from "./api-keys.ts";
import { createConnectionLinking } from "./connection-linking.ts";
import type { LoginVault } from "./connection-status.ts";
import { createConnectionService } from "./connections.ts";
import { createConnectorService } from "./connectors.ts";
import { createEntityService } from "./entities.ts";
import { NotConfiguredError } from "./errors.ts";
import { createShopIntegrationService } from "./shop-integrations.ts";

export interface ServiceDeps {
  db: Database;
  clock: Clock;
  config: Config;
}

// TEMPORARY until the vault (branch `vault`) reaches main: nothing can be sealed, so linking refuses.
const vaultPending: LoginVault = {
  sealSecret: async () => {
    throw new NotConfiguredError("vault_unavailable", "The vault is not available on this server yet.", "Linking needs the vault.");
  },
  openSecret: async () => null,
  destroySecret: async () => false,
};

/** The composition root of the service layer: every service, wired once. */
export function createServices({ db, clock, config }: ServiceDeps) {
  const jobs = createJobQueue({ db, clock, pollMs: config.jobsPollMs, concurrency: config.jobsConcurrency });
  const entities = createEntityService({ db, clock });
  const apiKeys = createApiKeyService({ db, clock, entities });
  const connectors = createConnectorService({ db, clock, recoveryWindowDays: config.recoveryWindowDays });
  const shopIntegrations = createShopIntegrationService({ db, clock, connectors });
  const connectionTokens = createConnectionTokenSigner({ keys: resolveConnectionTokenKeys(config), clock });
  const connections = createConnectionService({ db, clock, tokens: connectionTokens, vault: vaultPending });
  const connectionLinking = createConnectionLinking({
    db,
    clock,
    tokens: connectionTokens,
    retailers: createRetailerGateway({ config }),
    vault: vaultPending,
    checkIntervalMs: config.connectionCheckIntervalHours * 3_600_000,
  });
  registerCheckConnectionsJob(jobs, { linking: connectionLinking });
  return { entities, apiKeys, connectors, shopIntegrations, jobs, connectionTokens, connections, connectionLinking };
}

export type Services = ReturnType<typeof createServices>;
