import type { ConnectorRecord } from "../db/schema.ts";

/** The plain row fields a caller may set (ship-from address, seller and bank account ids). */
export const ROW_FIELDS = [
  "ship_from_name",
  "ship_from_address1",
  "ship_from_city",
  "ship_from_state",
  "ship_from_zip",
  "seller_id",
  "bank_account_id",
] as const;

/**
 * The one shape in which a connector leaves the service (seed 000/001/002 row).
 * Every field is decided here; no credential, webhook secret or secret
 * reference is ever copied out — only whether one exists and the key names.
 */
export interface ConnectorRow {
  id: string;
  entity_id: string;
  connector_type: string;
  display_name: string;
  mode: "sandbox" | "live";
  is_active: boolean;
  config: Record<string, unknown>;
  has_webhook_secret: boolean;
  has_credentials_secret_arn: boolean;
  credentials_masked: string[];
  last_sync_at: string | null;
  sync_status: string | null;
  sync_error: string | null;
  ship_from_name: string | null;
  ship_from_address1: string | null;
  ship_from_city: string | null;
  ship_from_state: string | null;
  ship_from_zip: string | null;
  seller_id: string | null;
  bank_account_id: string | null;
  disconnected_at: string | null;
  /** Where the provider POSTs its webhooks: PATCHBAY_PUBLIC_URL/v1/webhooks-in/<type>/<token> (README, Provider webhooks in). */
  inbound_webhook_url: string;
  created_at: string;
  updated_at: string;
}

/** The path of a connector's inbound webhook URL; the token is its only secret part. */
export function inboundWebhookPath(c: Pick<ConnectorRecord, "connector_type" | "inbound_token">): string {
  return `/v1/webhooks-in/${c.connector_type}/${c.inbound_token}`;
}

/** `publicUrl` is PATCHBAY_PUBLIC_URL (no trailing slash), handed in by the service that projects. */
export function toConnectorRow(c: ConnectorRecord, publicUrl: string): ConnectorRow {
  return {
    id: c.id,
    entity_id: c.entity_id,
    connector_type: c.connector_type,
    display_name: c.display_name,
    mode: c.mode,
    is_active: c.is_active,
    config: c.config,
    // Whether a sealed secret exists, and the credential key names: never a value, never the vault reference.
    has_webhook_secret: c.webhook_secret_id !== null,
    has_credentials_secret_arn: c.credentials_secret_id !== null,
    credentials_masked: c.credentials_secret_id === null ? [] : [...c.credential_keys].sort(),
    last_sync_at: c.last_sync_at?.toISOString() ?? null,
    sync_status: c.sync_status,
    sync_error: c.sync_error,
    ship_from_name: c.ship_from_name,
    ship_from_address1: c.ship_from_address1,
    ship_from_city: c.ship_from_city,
    ship_from_state: c.ship_from_state,
    ship_from_zip: c.ship_from_zip,
    seller_id: c.seller_id,
    bank_account_id: c.bank_account_id,
    disconnected_at: c.disconnected_at?.toISOString() ?? null,
    inbound_webhook_url: publicUrl + inboundWebhookPath(c),
    created_at: c.created_at.toISOString(),
    updated_at: c.updated_at.toISOString(),
  };
}
