import { Type, type Static } from "@sinclair/typebox";
import { CONNECTOR_TYPES, type ConnectorType } from "../catalog/index.ts";
import type { ConnectorRecord } from "../db/schema.ts";
import { Nullable, StringEnum, Timestamp, Uuid } from "../kernel/schema-types.ts";

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
 * The one shape in which a connector leaves the service (seed 000/001/002
 * row): this schema is the OpenAPI document's ConnectorRow and ConnectorRow
 * is derived from it. Every field is decided here; no credential, webhook
 * secret or secret reference is ever copied out — only whether one exists
 * and the key names.
 */
export const ConnectorRowSchema = Type.Object(
  {
    id: Uuid,
    entity_id: Uuid,
    connector_type: StringEnum(CONNECTOR_TYPES),
    display_name: Type.String(),
    mode: StringEnum(["sandbox", "live"] as const),
    is_active: Type.Boolean(),
    config: Type.Unsafe<Record<string, unknown>>(Type.Object({}, { additionalProperties: true })),
    has_webhook_secret: Type.Boolean({ description: "True if a webhook signing secret is configured (value never returned)" }),
    has_credentials_secret_arn: Type.Boolean({ description: "True if credentials are stored (sealed; never returned)" }),
    credentials_masked: Type.Array(Type.String(), { description: "Names of the stored credential keys, sorted; never values" }),
    last_sync_at: Nullable(Timestamp),
    sync_status: Nullable(Type.String()),
    sync_error: Nullable(Type.String()),
    ship_from_name: Nullable(Type.String()),
    ship_from_address1: Nullable(Type.String()),
    ship_from_city: Nullable(Type.String()),
    ship_from_state: Nullable(Type.String()),
    ship_from_zip: Nullable(Type.String()),
    seller_id: Nullable(Type.String()),
    bank_account_id: Nullable(Uuid),
    disconnected_at: Nullable(Timestamp),
    /** Where the provider POSTs its webhooks: PATCHBAY_PUBLIC_URL/v1/webhooks-in/<type>/<token> (README, Provider webhooks in). */
    inbound_webhook_url: Type.String({
      format: "uri",
      description: "Register this URL with the provider for its webhooks (README, Provider webhooks in). Its last segment is an unguessable per-connector token.",
    }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: "ConnectorRow", description: "A configured connector. Credentials, webhook secret and secret references are never returned." },
);

export type ConnectorRow = Static<typeof ConnectorRowSchema>;

/** The path of a connector's inbound webhook URL; the token is its only secret part. */
export function inboundWebhookPath(c: Pick<ConnectorRecord, "connector_type" | "inbound_token">): string {
  return `/v1/webhooks-in/${c.connector_type}/${c.inbound_token}`;
}

/**
 * The columns toConnectorRow reads: a list selects these and no others (the
 * shop-integration columns, an array and a timestamp among them, would be
 * read and parsed for nothing, ten times a page).
 */
export const CONNECTOR_ROW_COLUMNS = [
  "id",
  "entity_id",
  "connector_type",
  "display_name",
  "mode",
  "is_active",
  "config",
  "webhook_secret_id",
  "credentials_secret_id",
  "credential_keys",
  "last_sync_at",
  "sync_status",
  "sync_error",
  ...ROW_FIELDS,
  "disconnected_at",
  "inbound_token",
  "created_at",
  "updated_at",
] as const satisfies readonly (keyof ConnectorRecord)[];

export type ConnectorRowRecord = Pick<ConnectorRecord, (typeof CONNECTOR_ROW_COLUMNS)[number]>;

/** `publicUrl` is PATCHBAY_PUBLIC_URL (no trailing slash), handed in by the service that projects. */
export function toConnectorRow(c: ConnectorRowRecord, publicUrl: string): ConnectorRow {
  return {
    id: c.id,
    entity_id: c.entity_id,
    connector_type: c.connector_type as ConnectorType,
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
