import { createHmac } from "node:crypto";
import type { ConnectorRecord } from "../db/schema.ts";

/**
 * A shop integration's own webhook (its webhook_url, when webhook_active), in
 * the format of the Sendcloud v3 webhooks spec
 * (openapi/_original/sendcloud-v3-webhooks-openapi.yml in api-evangelist/sendcloud):
 * the body `{action, timestamp, integration}`, signed in `Sendcloud-Signature`,
 * retried on the spec's schedule.
 */

/** Patchbay event type → the spec's action (IntegrationConnected, IntegrationModified, IntegrationDeleted). */
export const SENDCLOUD_ACTIONS = {
  "connector.connected": "integration_connected",
  "connector.restored": "integration_connected",
  "connector.updated": "integration_updated",
  "shop_integration.updated": "integration_updated",
  "connector.disconnected": "integration_deleted",
} as const;

export type SendcloudAction = (typeof SENDCLOUD_ACTIONS)[keyof typeof SENDCLOUD_ACTIONS];

/** The event types a shop integration's webhook receives. */
export const SHOP_WEBHOOK_EVENT_TYPES = Object.keys(SENDCLOUD_ACTIONS) as (keyof typeof SENDCLOUD_ACTIONS)[];

export function sendcloudActionOf(eventType: string): SendcloudAction | null {
  return (SENDCLOUD_ACTIONS as Record<string, SendcloudAction>)[eventType] ?? null;
}

/**
 * The integration as the webhook spec's IntegrationWebhookBase names its
 * fields — the Integrations API v2 names (`system`, `failing_since`,
 * `last_fetch`, `last_updated_at`), not the v3 object's.
 */
export interface SendcloudWebhookIntegration {
  id: number;
  shop_name: string;
  shop_url: string | null;
  system: string;
  failing_since: string | null;
  last_fetch: string | null;
  last_updated_at: string | null;
  service_point_enabled: boolean;
  service_point_carriers: string[];
  webhook_active: boolean;
  webhook_url: string | null;
}

export function toWebhookIntegration(c: ConnectorRecord): SendcloudWebhookIntegration {
  return {
    id: c.shop_integration_id,
    shop_name: c.display_name,
    shop_url: c.shop_url,
    system: c.connector_type,
    failing_since: c.sync_failing_since?.toISOString() ?? null,
    last_fetch: c.last_sync_at?.toISOString() ?? null,
    last_updated_at: c.updated_at.toISOString(),
    service_point_enabled: c.service_point_enabled,
    service_point_carriers: c.service_point_carriers,
    webhook_active: c.webhook_active,
    webhook_url: c.webhook_url,
  };
}

/** The body: `timestamp` is the event's time in Unix milliseconds, as the spec's example (1525271885993). */
export function sendcloudWebhookBody(action: SendcloudAction, eventAt: Date, connector: ConnectorRecord): string {
  return JSON.stringify({ action, timestamp: eventAt.getTime(), integration: toWebhookIntegration(connector) });
}

/** `Sendcloud-Signature`: hex HMAC-SHA256 of the raw body, keyed with the integration's webhook signature key. */
export function sendcloudSignature(key: string, rawBody: string): string {
  return createHmac("sha256", key).update(rawBody).digest("hex");
}

/**
 * The spec's schedule: after a failed call, 10 more tries with an exponential
 * delay starting at 5 minutes and at most 1 hour between tries (5, 10, 20, 40,
 * then 60 minutes); after the 11th failed try the delivery is `failed` and the
 * failure is written to the integration's exception log ("Failed Request logs").
 */
export const SENDCLOUD_RETRY_DELAYS_MS = [5, 10, 20, 40, 60, 60, 60, 60, 60, 60].map((m) => m * 60_000);
export const SENDCLOUD_TRIES = SENDCLOUD_RETRY_DELAYS_MS.length + 1;

export function sendcloudRetryDelayMs(attempt: number): number {
  return SENDCLOUD_RETRY_DELAYS_MS[Math.min(Math.max(attempt, 1), SENDCLOUD_RETRY_DELAYS_MS.length) - 1]!;
}
