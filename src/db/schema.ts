import type { ColumnType, Generated, Insertable, Selectable, Updateable } from "kysely";

/** Row types of every table, as the migrations in ./migrations create them. */
export interface DB {
  schema_migrations: { version: string; applied_at: Date };
  entities: EntitiesTable;
  api_keys: ApiKeysTable;
  connectors: ConnectorsTable;
  idempotency_keys: IdempotencyKeysTable;
  rate_limit_windows: RateLimitWindowsTable;
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
  created_at: Date;
  updated_at: Date;
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
export type { Generated };
