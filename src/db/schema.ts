import type { ColumnType, Generated, GeneratedAlways, Insertable, Selectable, Updateable } from "kysely";

/** Row types of every table, as the migrations in ./migrations create them. */
export interface DB {
  schema_migrations: { version: string; applied_at: Date };
  entities: EntitiesTable;
  api_keys: ApiKeysTable;
  connectors: ConnectorsTable;
  events: EventsTable;
  audit_events: AuditEventsTable;
  connections: ConnectionsTable;
  purchases: PurchasesTable;
  vault_secrets: VaultSecretsTable;
  jobs: JobsTable;
  idempotency_keys: IdempotencyKeysTable;
  rate_limit_windows: RateLimitWindowsTable;
  shopify_oauth_states: ShopifyOAuthStatesTable;
  shopify_grants: ShopifyGrantsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_destinations: WebhookDestinationsTable;
  link_tokens: LinkTokensTable;
  provider_tokens: ProviderTokensTable;
  provider_calls: ProviderCallsTable;
  integration_logs: IntegrationLogsTable;
  provider_webhook_events: ProviderWebhookEventsTable;
  oauth2_access_tokens: OAuth2AccessTokensTable;
  request_log_batches: RequestLogBatchesTable;
}

/**
 * One flush's requests of one entity's API keys (0045; written by
 * services/request-logs.ts): `entries` is JSON text, oldest first, each entry
 * [id, api_key_id, mode, method, path, status, latency_ms, client_ip, request_id].
 */
export interface RequestLogBatchesTable {
  /** The newest entry's id. */
  id: string;
  entity_id: string;
  /** The oldest entry's id. */
  first_id: string;
  entries: string;
}

/** A bearer token of the OAuth2 client-credentials exchange on /api/v3 (0035): only its hash. */
export interface OAuth2AccessTokensTable {
  id: string;
  api_key_id: string;
  token_hash: Buffer;
  scope: "api";
  expires_at: Date;
  created_at: Date;
}

/** A provider event accepted at a connector's inbound URL (0015): the dedup key. */
export interface ProviderWebhookEventsTable {
  connector_id: string;
  provider_event_id: string;
  event_id: string;
  received_at: Date;
}

type Json = Record<string, unknown>;
type JsonColumn = ColumnType<Json, string, string>;

export interface EntitiesTable {
  id: string;
  name: string;
  created_at: Date;
}

export interface ApiKeysTable {
  id: string;
  entity_id: string;
  name: string;
  mode: "live" | "test";
  scopes: string[];
  key_prefix: string;
  key_hash: Buffer;
  public_key: string;
  created_at: Date;
  revoked_at: Date | null;
  /** Per-key overrides; null means the mode's default. */
  rate_limit_per_minute: number | null;
  rate_limit_burst: number | null;
  /** Set from the request log's batches (0039): lags by up to the flush interval. */
  last_used_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface ConnectorsTable {
  id: string;
  entity_id: string;
  connector_type: string;
  display_name: string;
  mode: "sandbox" | "live";
  is_active: boolean;
  config: JsonColumn;
  last_sync_at: Date | null;
  sync_status: string | null;
  sync_error: string | null;
  ship_from_name: string | null;
  ship_from_address1: string | null;
  ship_from_city: string | null;
  ship_from_state: string | null;
  ship_from_zip: string | null;
  seller_id: string | null;
  bank_account_id: string | null;
  disconnected_at: Date | null;
  /** The sealed credentials in vault_secrets (never leaves the service). */
  credentials_secret_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** The sealed webhook signing secret in vault_secrets (never leaves the service). */
  webhook_secret_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** Names of the stored credential keys (not secret; shown as credentials_masked). */
  credential_keys: ColumnType<string[], string[] | undefined, string[]>;
  /** The unguessable token of the connector's inbound webhook URL (0015; set by the database). */
  inbound_token: Generated<string>;
  created_at: Date;
  updated_at: Date;
  // Shop integration view (0006): the integer id and the shipping settings.
  shop_integration_id: GeneratedAlways<number>;
  shop_url: string | null;
  service_point_enabled: Generated<boolean>;
  service_point_carriers: Generated<string[]>;
  webhook_active: Generated<boolean>;
  webhook_url: string | null;
  feedback_type: Generated<"eager" | "delayed" | "none">;
  /** Maintained by a trigger: when sync_status turned failing. */
  sync_failing_since: Date | null;
}

export interface VaultSecretsTable {
  id: string;
  entity_id: string;
  owner_id: string;
  purpose: string;
  master_key_id: string;
  wrapped_key: Buffer;
  ciphertext: Buffer;
  created_at: Date;
  updated_at: Date;
}

export interface EventsTable {
  id: string;
  entity_id: string;
  type: string;
  data: JsonColumn;
  created_at: Date;
}

export interface AuditEventsTable {
  id: string;
  entity_id: string | null;
  actor_type: "api_key" | "admin" | "system";
  actor_id: string | null;
  action: string;
  target_type: string;
  target_id: string;
  request_id: string | null;
  changes: JsonColumn;
  created_at: Date;
}

export interface ShopifyOAuthStatesTable {
  state_hash: Buffer;
  entity_id: string;
  connector_id: string;
  shop: string;
  created_at: Date;
  expires_at: Date;
  used_at: Date | null;
}

export interface ShopifyGrantsTable {
  connector_id: string;
  shop: string;
  scope: string;
  access_expires_at: Date | null;
  refresh_expires_at: Date | null;
  status: "active" | "reauth_required";
  generation: Generated<number>;
  refresh_lease_id: string | null;
  refresh_lease_until: Date | null;
  created_at: Date;
  updated_at: Date;
}

export type ConnectionStatus = "initialized" | "active" | "unauthenticated" | "disconnected";

export interface ConnectionsTable {
  id: string;
  entity_id: string;
  customer_id: string;
  retailer_id: string;
  email: string | null;
  mobile: string | null;
  status: ConnectionStatus;
  credentials_version: Generated<number>;
  linked_at: Date | null;
  link_attempts: Generated<number>;
  last_checked_at: Date | null;
  disconnected_at: Date | null;
  created_at: Date;
  updated_at: Date;
  sync_cursor: ColumnType<string | null, string | null | undefined, string | null>;
  next_sync_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  last_synced_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  sync_failures: Generated<number>;
  sync_lease_token: ColumnType<string | null, string | null | undefined, string | null>;
  sync_lease_until: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface PurchaseItem {
  item_id: string;
  price: string;
  quantity: string;
  product: { product_id: string | null; description: string | null; name: string | null; upc: string | null; brand: string | null };
}

export interface PurchasesTable {
  id: string;
  entity_id: string;
  connection_id: string;
  retailer_purchase_id: string;
  purchased_at: Date;
  total: string;
  tax: string;
  subtotal: string;
  item_count: number;
  items: ColumnType<PurchaseItem[], string, string>;
  created_at: Date;
}

export interface JobsTable {
  id: string;
  name: string;
  payload: ColumnType<unknown, string, string>;
  state: ColumnType<"queued" | "failed", "queued" | "failed" | undefined, "queued" | "failed">;
  run_at: Date;
  attempts: ColumnType<number, number | undefined, number>;
  max_attempts: number;
  singleton_key: string | null;
  lease_token: string | null;
  claimed_at: Date | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface WebhookEndpointsTable {
  id: string;
  entity_id: string;
  url: string;
  events: string[];
  enabled: boolean;
  description: string | null;
  /** After a rotation: until when the previous signing secret (in the vault) still signs. */
  previous_secret_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
  status: ColumnType<"active" | "paused" | "disabled", "active" | "paused" | "disabled" | undefined, "active" | "paused" | "disabled">;
  mode: ColumnType<"live" | "test", "live" | "test" | undefined, "live" | "test">;
  api_version: ColumnType<string | null, string | null | undefined, string | null>;
  metadata: ColumnType<Record<string, unknown>, string | undefined, string>;
  secret_last4: ColumnType<string | null, string | null | undefined, string | null>;
  success_count: ColumnType<number, number | undefined, number>;
  failure_count: ColumnType<number, number | undefined, number>;
  consecutive_failure_count: ColumnType<number, number | undefined, number>;
  last_delivery_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface WebhookDeliveryAttempt {
  attempted_at: string;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  /** The body as sent (events carry no secrets); absent on attempts logged before it was kept. */
  request_body?: string;
}

export interface WebhookDeliveriesTable {
  id: string;
  event_id: string;
  endpoint_id: string | null;
  connector_id: string | null;
  destination_id: ColumnType<string | null, string | null | undefined, string | null>;
  status: ColumnType<"pending" | "succeeded" | "failed", "pending" | "succeeded" | "failed" | undefined, "pending" | "succeeded" | "failed">;
  attempts: ColumnType<WebhookDeliveryAttempt[], string | undefined, string>;
  attempt_count: ColumnType<number, number | undefined, number>;
  next_attempt_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface WebhookDestinationsTable {
  id: string;
  entity_id: string;
  name: string;
  url: string;
  events: string[];
  accepts_simulated_events: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface LinkTokensTable {
  id: string;
  entity_id: string;
  customer_id: string;
  token_hash: string;
  expires_at: Date;
  revoked_at: Date | null;
  last_used_at: Date | null;
  link_attempts: ColumnType<number, number | undefined, number>;
  attempts_since: Date | null;
  created_at: Date;
}

export interface IdempotencyKeysTable {
  scope: string;
  key: string;
  fingerprint: Buffer;
  state: "in_progress" | "done";
  lease_token: string | null;
  locked_until: Date | null;
  response_status: number | null;
  response_headers: ColumnType<Record<string, string> | null, string | null, string | null>;
  response_body: Buffer | null;
  created_at: Date;
  expires_at: Date;
}

export interface RateLimitWindowsTable {
  api_key_id: string;
  minute_index: ColumnType<string, string | number, string | number>;
  minute_count: number;
  minute_prev: number;
  second_index: ColumnType<string, string | number, string | number>;
  second_count: number;
  second_prev: number;
}

export type Entity = Selectable<EntitiesTable>;
export type ApiKeyRecord = Selectable<ApiKeysTable>;
export type ConnectorRecord = Selectable<ConnectorsTable>;
export type NewConnector = Insertable<ConnectorsTable>;
export type ConnectorUpdate = Updateable<ConnectorsTable>;
export type ShopifyGrantRecord = Selectable<ShopifyGrantsTable>;
export type ShopifyOAuthStateRecord = Selectable<ShopifyOAuthStatesTable>;
export type ConnectionRecord = Selectable<ConnectionsTable>;
export type PurchaseRecord = Selectable<PurchasesTable>;
export type ConnectionUpdate = Updateable<ConnectionsTable>;
export type JobRecord = Selectable<JobsTable>;
export type { Generated };
export type WebhookEndpointRecord = Selectable<WebhookEndpointsTable>;
export type WebhookDeliveryRecord = Selectable<WebhookDeliveriesTable>;
export type WebhookDestinationRecord = Selectable<WebhookDestinationsTable>;
export type LinkTokenRecord = Selectable<LinkTokensTable>;

export interface ProviderTokensTable {
  connector_id: string;
  generation: ColumnType<number, number | undefined, number>;
  expires_at: Date | null;
  mint_lease_id: string | null;
  mint_lease_until: Date | null;
  created_at: Date;
  updated_at: Date;
}

export type ProviderCallPurpose = "proxy" | "verify" | "health_check" | "token_mint" | "token_refresh";

export interface ProviderCallsTable {
  id: string;
  entity_id: string;
  connector_id: string;
  connector_type: string;
  purpose: ProviderCallPurpose;
  method: string;
  path: string;
  status: number | null;
  latency_ms: number;
  bytes_sent: ColumnType<string | number, number, number>;
  bytes_received: ColumnType<string | number, number, number>;
  error_class: string | null;
  request_id: string | null;
  created_at: Date;
}

export type IntegrationLogSource = "provider_call" | "client" | "webhook";

/** An integration exception log entry (0036): /api/v3/integrations/{id}/logs. */
export interface IntegrationLogsTable {
  id: Generated<number>;
  entity_id: string;
  connector_id: string;
  source: IntegrationLogSource;
  base_url: string;
  full_url: string | null;
  method: Generated<string>;
  response_code: number | null;
  response: ColumnType<unknown, string | null, string | null>;
  request: ColumnType<unknown, string | null, string | null>;
  exception_type: string | null;
  exception: string | null;
  additional_data: ColumnType<unknown, string | undefined, string>;
  protected: Generated<boolean>;
  created_at: Date;
}
