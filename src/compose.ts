import { SHOPIFY_CALLBACK_PATH } from "./public-paths.ts";
import { connectionTokenKeys, createConnectionTokenSigner } from "./auth/connection-tokens.ts";
import { fingerprintKey } from "./idempotency/fingerprint.ts";
import type { Clock } from "./kernel/clock.ts";
import type { Config } from "./config.ts";
import type { Database } from "./db/index.ts";
import { queueHealthCheck, registerHealthCheckJobs } from "./jobs/health-checks.ts";
import { createRetailerGateway } from "./providers/retailers.ts";
import { registerCheckConnectionsJob } from "./jobs/check-connections.ts";
import { queuePurchaseSync, registerPurchaseSyncJobs } from "./jobs/sync-purchases.ts";
import { registerPurgeJob } from "./jobs/purge.ts";
import { registerIdempotencyPurgeJob } from "./jobs/purge-idempotency.ts";
import { registerAuthFailurePurgeJob } from "./jobs/purge-auth-failures.ts";
import { createJobQueue } from "./queue/queue.ts";
import type { Jobs } from "./queue/job-types.ts";
import { registerTokenRefreshJobs } from "./jobs/refresh-tokens.ts";
import { registerWebhookDeliveryJob } from "./jobs/deliver-webhooks.ts";
import { createWebhookSender } from "./providers/webhook-sender.ts";
import { createProviderClient, type ProviderClient, type ProviderLogger } from "./providers/client.ts";
import { createShopifyApi } from "./providers/shopify.ts";
import type { KeyRing } from "./vault/envelope.ts";
import { resolveKeyRing } from "./vault/key-ring.ts";
import { createVault } from "./vault/vault.ts";
import { crashSwitch, createIdempotencyStore } from "./idempotency/store.ts";
import { createAuthThrottle } from "./ratelimit/auth-throttle.ts";
import { rateLimiterFor } from "./ratelimit/limiter.ts";
import { createAdmission } from "./services/admission.ts";
import { createOAuth2TokenStore } from "./services/oauth2-tokens.ts";
import { createApiKeyService } from "./services/api-keys.ts";
import { createAuditLog } from "./services/audit.ts";
import { createConnectorHealth } from "./services/connector-health.ts";
import { createConnectionLinking } from "./services/connection-linking.ts";
import { createConnectionService } from "./services/connections.ts";
import { createDurableLinking } from "./services/durable-linking.ts";
import { createLinkTokenService } from "./services/link-tokens.ts";
import { createPurchaseSync } from "./services/purchase-sync.ts";
import { createPurchaseService } from "./services/purchases.ts";
import { createConnectorService } from "./services/connectors.ts";
import { createCredentialService } from "./services/credentials.ts";
import { createEntityService } from "./services/entities.ts";
import { createShopIntegrationService } from "./services/shop-integrations.ts";
import { createShopifyGrants } from "./services/shopify-grants.ts";
import { createShopifyOAuthService } from "./services/shopify-oauth.ts";
import { systemResolveHost, type ResolveHost } from "./providers/webhook-address.ts";
import { createWebhookDeliveryService } from "./services/webhook-deliveries.ts";
import { createWebhookDestinationService } from "./services/webhook-destinations.ts";
import { createWebhookEndpointService } from "./services/webhook-endpoints.ts";
import { registerProviderCallPurgeJob } from "./jobs/purge-provider-calls.ts";
import { createProxyTransport } from "./providers/proxy-transport.ts";
import { createMintedTokens } from "./services/minted-tokens.ts";
import { createProviderCallLog } from "./services/provider-calls.ts";
import { createProxyService } from "./services/proxy.ts";
import { createRequestLog } from "./services/request-logs.ts";
import { registerRequestLogPurgeJob } from "./jobs/purge-request-logs.ts";
import { createInboundWebhooks } from "./services/inbound-webhooks.ts";
import { createIntegrationLogStore } from "./services/integration-logs.ts";
import { observeIdempotency, observeProviderCalls, observeVault, observeWebhookSends } from "./metrics/observe.ts";
import { createMetrics, type Metrics } from "./metrics/registry.ts";
import { DELIVER_WEBHOOK_JOB } from "./services/webhook-schedule.ts";

export interface ServiceDeps {
  db: Database;
  clock: Clock;
  config: Config;
  /** The master key ring; resolved from config (PATCHBAY_MASTER_KEYS or the data dir's key file) when not given. */
  keyRing?: KeyRing;
  /** Where provider calls are logged (provider, method, path, status, latency; never a secret). */
  logger?: ProviderLogger;
  /** Tests may hand in a client with a stubbed fetch or sleep. */
  providers?: ProviderClient;
  /** DNS for webhook URLs; tests hand in their own to play a rebinding. */
  resolveHost?: ResolveHost;
  /** Where the counters go (default: a registry of its own; process metrics only when /metrics is served). */
  metrics?: Metrics;
}

const silent: ProviderLogger = { info() {}, warn() {} };

/** The composition root of the service layer: every service, wired once. */
export function createServices({ db, clock, config, keyRing, logger = silent, providers, resolveHost = systemResolveHost, metrics: given }: ServiceDeps) {
  const metrics = given ?? createMetrics({ processMetrics: config.metrics.token !== null || config.metrics.port !== null });
  const integrationLogs = createIntegrationLogStore({ db, clock });
  const callLog = createProviderCallLog({ db, clock, integrationLogs, flushMs: config.providerLogFlushMs, onError: (err) => logger.warn({ err: (err as Error).message }, "provider call not logged") });
  const client = observeProviderCalls(providers ?? createProviderClient({ config, logger, callLog }), metrics);
  const { clientId, clientSecret } = config.shopify;
  const shopify = clientId && clientSecret ? createShopifyApi({ client, clientId, clientSecret }) : null;

  const jobs: Jobs = createJobQueue({ db, clock, pollMs: config.jobsPollMs, concurrency: config.jobsConcurrency });
  const ring = keyRing ?? resolveKeyRing(config).ring;
  const vault = observeVault(createVault({ db, ring, clock }), metrics);
  const entities = createEntityService({ db, clock });
  const apiKeys = createApiKeyService({ db, clock, entities, rateLimits: config.rateLimits });
  const shopifyGrants = createShopifyGrants({ db, clock, shopify, vault, publicUrl: config.publicUrl });
  const shopifyOAuth = createShopifyOAuthService({ db, clock, config, callbackUrl: `${config.publicUrl}${SHOPIFY_CALLBACK_PATH}`, shopify, grants: shopifyGrants, vault });
  const connectors = createConnectorService({ db, clock, recoveryWindowDays: config.recoveryWindowDays, vault, publicUrl: config.publicUrl, oauth: shopifyOAuth });
  // New credentials are verified right after they are stored (a job, so the PUT never waits on the provider).
  const credentials = createCredentialService({ db, clock, vault, connectors, publicUrl: config.publicUrl, onCredentialsStored: (trx, id) => queueHealthCheck(jobs, trx, id), cacheTtlMs: config.cacheTtlMs });
  const health = createConnectorHealth({
    db,
    clock,
    providers: client,
    shopify,
    grants: shopifyGrants,
    connectors,
    publicUrl: config.publicUrl,
    openCredentials: credentials.openCredentials,
    healthIntervalMs: config.healthCheckIntervalMinutes * 60_000,
  });
  const shopIntegrations = createShopIntegrationService({ db, clock, connectors, logs: integrationLogs });
  const idempotency = observeIdempotency(createIdempotencyStore({ db, clock, fault: crashSwitch(config.faultCrash), fingerprintKey: fingerprintKey(ring) }), metrics);
  const rateLimiter = rateLimiterFor({ db, clock, redisUrl: config.redisUrl, redisKeyPrefix: config.redisKeyPrefix });
  const authThrottle = createAuthThrottle({ limiter: rateLimiter, clock, failuresPerMinute: config.authFailuresPerMinute });
  const admission = createAdmission({ db, clock, apiKeys, rateLimiter, rateLimits: config.rateLimits, authThrottle, cacheTtlMs: config.cacheTtlMs });
  const oauth2Tokens = createOAuth2TokenStore({ db, clock });
  registerAuthFailurePurgeJob(jobs, { db, clock, everyMs: config.purgeIntervalMs });
  registerPurgeJob(jobs, { connectors, everyMs: config.purgeIntervalMs });
  registerIdempotencyPurgeJob(jobs, { db, clock, everyMs: config.purgeIntervalMs });
  registerTokenRefreshJobs(jobs, { db, grants: shopifyGrants, oauth: shopifyOAuth });
  registerHealthCheckJobs(jobs, { db, health });
  const connectionTokens = createConnectionTokenSigner({ keys: connectionTokenKeys(config, ring), clock });
  const connections = createConnectionService({ db, clock, tokens: connectionTokens, vault });
  const retailers = createRetailerGateway({ config });
  const connectionLinking = createConnectionLinking({
    db,
    clock,
    tokens: connectionTokens,
    retailers,
    vault,
    checkIntervalMs: config.connectionCheckIntervalHours * 3_600_000,
    onActivated: (trx, id) => queuePurchaseSync(jobs, trx, id),
  });
  const linkTokens = createLinkTokenService({ db, clock });
  const durableLinking = createDurableLinking({ db, clock, retailers, vault, linkTokens, onActivated: (trx, id) => queuePurchaseSync(jobs, trx, id) });
  registerCheckConnectionsJob(jobs, { linking: connectionLinking });
  const purchases = createPurchaseService({ db, clock, recoveryWindowDays: config.recoveryWindowDays });
  const purchaseSync = createPurchaseSync({ db, clock, retailers, vault, intervalMs: config.purchaseSyncIntervalMinutes * 60_000 });
  registerPurchaseSyncJobs(jobs, { db, sync: purchaseSync, purchases, scheduleEveryMs: Math.min(60_000, config.purchaseSyncIntervalMinutes * 60_000), purgeEveryMs: config.purgeIntervalMs });
  const audit = createAuditLog({ db });
  const webhookEndpoints = createWebhookEndpointService({ db, clock, vault, jobs, urls: { allowPrivate: config.webhookAllowPrivate, resolveHost } });
  const webhookDestinations = createWebhookDestinationService({ db, clock, vault, urls: { allowPrivate: config.webhookAllowPrivate, resolveHost } });
  const webhookDeliveries = createWebhookDeliveryService({
    db,
    clock,
    jobs,
    endpoints: webhookEndpoints,
    destinations: webhookDestinations,
    openWebhookSecret: credentials.openWebhookSecret,
    integrationLogs,
    send: observeWebhookSends(createWebhookSender({ allowPrivate: config.webhookAllowPrivate, resolveHost, timeoutMs: config.webhookTimeoutMs }), metrics),
  });
  registerWebhookDeliveryJob(jobs, { deliveries: webhookDeliveries, timeoutMs: config.webhookTimeoutMs });
  const minted = createMintedTokens({ db, clock, vault, providers: client });
  const proxyTransport = createProxyTransport({ timeoutMs: config.proxy.timeoutMs });
  const proxy = createProxyService({ db, clock, config, connectorWithCredentials: credentials.connectorWithCredentials, grants: shopifyGrants, minted, transport: proxyTransport, callLog });
  const inboundWebhooks = createInboundWebhooks({
    db,
    clock,
    rateLimiter,
    perMinute: config.inboundWebhooks.perMinute,
    openWebhookSecret: credentials.openWebhookSecret,
    openCredentials: credentials.openCredentials,
    providers: client,
  });
  const requestLog = createRequestLog({ db, clock, lastUsed: apiKeys, flushMs: config.requestLog.flushMs, onError: (err) => logger.warn({ err: (err as Error).message }, "request log batch not written") });
  registerRequestLogPurgeJob(jobs, { requestLog, retentionMs: config.requestLog.retentionDays * 86_400_000, everyMs: config.purgeIntervalMs });
  registerProviderCallPurgeJob(jobs, { callLog, integrationLogs, retentionMs: config.providerLogRetentionDays * 86_400_000, everyMs: config.purgeIntervalMs });
  metrics.sources.jobQueue = () => jobs.queueStats();
  metrics.sources.webhookJob = DELIVER_WEBHOOK_JOB;
  return { metrics, inboundWebhooks, proxy, proxyTransport, callLog, requestLog, minted, admission, oauth2Tokens, authThrottle, audit, webhookEndpoints, webhookDestinations, webhookDeliveries, entities, apiKeys, connectors, credentials, shopIntegrations, integrationLogs, idempotency, rateLimiter, vault, jobs, connectionTokens, connections, connectionLinking, linkTokens, durableLinking, purchases, purchaseSync, shopifyOAuth, shopifyGrants, health };
}

export type Services = ReturnType<typeof createServices>;
