import type { Clock } from "../kernel/clock.ts";
import type { ConnectorType } from "../catalog/index.ts";
import type { Database } from "../db/index.ts";
import { connectorsDueForCheck, selectConnectorById, updateConnectorIfPresent } from "./connector-store.ts";
import { setGrantFields } from "./shopify-grant-store.ts";
import type { ConnectorRecord } from "../db/schema.ts";
import { ProviderError, type ProviderClient } from "../providers/client.ts";
import type { ShopifyApi } from "../providers/shopify.ts";
import { byStatus } from "../providers/verify/check.ts";
import { checkCredentials, type CheckResult } from "../providers/verify/index.ts";
import type { ApiKeyActor } from "../auth/actor.ts";
import { auditActorOf, diffFields, systemActor, type AuditActor } from "./audit.ts";
import { recordChange } from "./record-change.ts";
import { toConnectorRow, type ConnectorRow } from "./connector-row.ts";
import type { ConnectorService } from "./connectors.ts";
import { ConflictError } from "../kernel/errors.ts";
import { recordAuthFailure, type ShopifyGrants } from "./shopify-grants.ts";
import type { CallContext } from "../providers/call-log.ts";

type ConnectorRef = Pick<ConnectorRecord, "id" | "entity_id" | "connector_type" | "mode" | "sync_status" | "sync_error">;

/** The periodic checks are Patchbay's own doing. */
const HEALTH_JOB = systemActor("job:health-checks");

export interface ConnectorHealthDeps {
  db: Database;
  clock: Clock;
  providers: ProviderClient;
  shopify: ShopifyApi | null;
  grants: ShopifyGrants;
  connectors: Pick<ConnectorService, "getConnector">;
  /** PATCHBAY_PUBLIC_URL: the base of each row's inbound_webhook_url. */
  publicUrl: string;
  /** A Mode A connector's stored credentials (opened from the vault), or null when it has none. */
  openCredentials(connector: Pick<ConnectorRecord, "id" | "entity_id">): Promise<Record<string, string> | null>;
  /** How long a check result stays fresh for the periodic health checks. */
  healthIntervalMs: number;
}

const SHOPIFY_CHECK = "GET /admin/oauth/access_scopes.json";

/**
 * Does a connector's stored credential still work? One cheap, read-only
 * provider call per type (src/providers/verify/), recorded on the row as
 * last_sync_at, sync_status (ok | auth_failed | unreachable) and sync_error.
 * A refusal also emits `connector.auth_failed`, once per transition.
 */
export function createConnectorHealth({ db, clock, providers, shopify, grants, connectors, publicUrl, openCredentials, healthIntervalMs }: ConnectorHealthDeps) {
  /** null: the connector has nothing to check yet (no credentials, or Shopify not authorized). */
  async function runCheck(connector: ConnectorRef, context: CallContext): Promise<CheckResult | null> {
    const type = connector.connector_type as ConnectorType;
    if (type === "shopify") return checkShopify(connector, context);
    const credentials = await openCredentials(connector);
    if (!credentials) return null;
    return checkCredentials(providers, type, credentials, connector.mode, context);
  }

  async function checkShopify(connector: ConnectorRef, context: CallContext): Promise<CheckResult | null> {
    if (!shopify) return null;
    let access = await grants.openAccessToken(connector);
    if (!access) return null;
    if (access.expired) {
      const refreshed = await grants.refreshGrant(connector.id);
      if (refreshed.outcome === "auth_failed") return { status: "auth_failed", error: refreshed.error };
      if (refreshed.outcome === "unreachable") return { status: "unreachable", error: `${refreshed.error} (token refresh).` };
      access = await grants.openAccessToken(connector);
      // Another refresher holds the grant: it records its own outcome; there is nothing to check until it has.
      if (!access || access.expired) return null;
    }
    try {
      return byStatus(await shopify.checkAccess(access.shop, access.accessToken, context), SHOPIFY_CHECK);
    } catch (err) {
      if (err instanceof ProviderError) return { status: "unreachable", error: `${err.message} (${SHOPIFY_CHECK}).` };
      throw err;
    }
  }

  /**
   * Writes a check's outcome on the row. A check is bookkeeping (last_sync_at)
   * unless sync_status changes: only a change is audited — auth_failed as
   * `connector.auth_failed` (with its event), any other as `connector.health_changed`.
   */
  async function record(connector: ConnectorRef, result: CheckResult, actor: AuditActor): Promise<ConnectorRecord | undefined> {
    return db.transaction().execute(async (trx) => {
      const now = clock.now();
      if (result.status === "auth_failed") {
        if (connector.connector_type === "shopify") {
          await setGrantFields(trx, connector.id, { status: "reauth_required", updated_at: now });
        }
        return recordAuthFailure(trx, connector.id, result.error ?? "The provider refused the credentials.", actor, now, publicUrl);
      }
      const row = await updateConnectorIfPresent(trx, connector.id, { last_sync_at: now, sync_status: result.status, sync_error: result.error, updated_at: now });
      if (row && row.sync_status !== connector.sync_status) {
        await recordChange(trx, {
          entityId: row.entity_id,
          actor,
          action: "connector.health_changed",
          target: { type: "connector", id: row.id },
          changes: diffFields(connector, row, ["sync_status", "sync_error"]),
          at: now,
        });
      }
      return row;
    });
  }

  return {
    /** POST /v1/integrations/{type}/verify: checks now and answers the row with the result. */
    async verifyConnector(actor: ApiKeyActor, type: ConnectorType): Promise<ConnectorRow> {
      const row = await connectors.getConnector(actor, type);
      if (row.disconnected_at !== null) {
        throw new ConflictError("connector_disconnected", `The ${type} connector is disconnected.`, { to: "restore_connector", connector_type: type });
      }
      const ref: ConnectorRef = { id: row.id, entity_id: row.entity_id, connector_type: row.connector_type, mode: row.mode, sync_status: row.sync_status, sync_error: row.sync_error };
      const result = await runCheck(ref, { entityId: row.entity_id, connectorId: row.id, connectorType: row.connector_type, purpose: "verify", requestId: actor.requestId ?? null });
      if (!result) {
        throw new ConflictError(
          "no_credentials",
          `The ${type} connector has no credentials to verify.`,
          type === "shopify" ? { to: "connect_shop", then_approve: true } : { to: "store_credentials", connector_type: type, first: true },
        );
      }
      const recorded = await record(ref, result, auditActorOf(actor));
      if (!recorded) return connectors.getConnector(actor, type);
      return toConnectorRow(recorded, publicUrl);
    },

    /** One connector's periodic check (the health-check job); null when it had nothing to check. */
    async checkConnector(connectorId: string): Promise<CheckResult | null> {
      const connector = await selectConnectorById(db, connectorId);
      if (!connector || !connector.is_active || connector.disconnected_at !== null) return null;
      const result = await runCheck(connector, { entityId: connector.entity_id, connectorId: connector.id, connectorType: connector.connector_type, purpose: "health_check" });
      if (result) await record(connector, result, HEALTH_JOB);
      return result;
    },

    /** Active connectors with credentials whose last check is older than the interval (never-checked first). */
    async dueForCheck(limit: number): Promise<string[]> {
      const staleBefore = new Date(clock.now().getTime() - healthIntervalMs);
      return connectorsDueForCheck(db, staleBefore, limit);
    },
  };
}

export type ConnectorHealth = ReturnType<typeof createConnectorHealth>;
