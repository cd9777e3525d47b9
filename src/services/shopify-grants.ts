import { selectConnectorById, setConnectorFields, updateConnector } from "./connector-store.ts";
import { claimGrantRefresh, completeGrantRefresh, grantsDueForRefresh, releaseGrantClaim, selectGrant, selectGrantForRefresh, setGrantFields, upsertGrant } from "./shopify-grant-store.ts";
import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import type { ConnectorRecord } from "../db/schema.ts";
import { ProviderError } from "../providers/client.ts";
import { ShopifyRejected, type ShopifyApi, type ShopifyTokens } from "../providers/shopify.ts";
import { systemActor, type AuditActor } from "./audit.ts";
import { recordChange } from "./record-change.ts";
import { recordConnectorChange } from "./connector-changes.ts";
import { toConnectorRow } from "./connector-row.ts";
import { CREDENTIALS_PURPOSE } from "./credentials.ts";
import type { SecretPlace, Vault } from "../vault/vault.ts";
import { uuidv7 } from "../kernel/ids.ts";

/**
 * A Shopify connector's credentials are its OAuth tokens: sealed where any
 * connector's credentials are (so the row shows has_credentials_secret_arn
 * and the key names, and DELETE's recovery window and the purge apply).
 */
const TOKEN_KEYS = ["access_token", "refresh_token"];

/** Refresh an access token this long before it expires. */
export const REFRESH_AHEAD_MS = 10 * 60_000;

/**
 * How long a refresher's claim holds. Longer than a token call can take
 * (one attempt, 10 s timeout), so a live refresher never loses it; a dead
 * one's claim lapses and the next run takes over.
 */
export const REFRESH_LEASE_MS = 2 * 60_000;

/** Token refreshes run for the refresh job and for health checks alike: Patchbay's own doing. */
const REFRESHER = systemActor("shopify_token_refresh");

export type RefreshOutcome =
  | { outcome: "refreshed"; accessExpiresAt: Date | null }
  /** Another refresher holds the claim, or already refreshed this generation. */
  | { outcome: "skipped" }
  | { outcome: "auth_failed"; error: string }
  | { outcome: "unreachable"; error: string };

type ConnectorRef = Pick<ConnectorRecord, "id" | "entity_id">;

interface SealedTokens {
  access_token: string;
  refresh_token: string | null;
}

export interface ShopifyGrantDeps {
  db: Database;
  clock: Clock;
  shopify: ShopifyApi | null;
  vault: Pick<Vault, "sealSecret" | "openSecret">;
  /** PATCHBAY_PUBLIC_URL: the base of each row's inbound_webhook_url. */
  publicUrl: string;
}

/**
 * Each Shopify connector's grant: the sealed access and refresh tokens and
 * their expiries. A refresh spends the refresh token (Shopify rotates it),
 * so exactly one refresher may spend each one, whatever the number of
 * processes: it must first win a conditional UPDATE that claims the grant's
 * current generation, and it completes only that generation.
 */
export function createShopifyGrants({ db, clock, shopify, vault, publicUrl }: ShopifyGrantDeps) {
  const secretPlaceOf = (connector: ConnectorRef): SecretPlace => ({ entityId: connector.entity_id, ownerId: connector.id, purpose: CREDENTIALS_PURPOSE });

  async function seal(trx: Database, connector: ConnectorRef, tokens: ShopifyTokens): Promise<string> {
    const plain: SealedTokens = { access_token: tokens.accessToken, refresh_token: tokens.refreshToken };
    return vault.sealSecret(trx, secretPlaceOf(connector), plain);
  }

  async function open(connector: ConnectorRef): Promise<SealedTokens | null> {
    return vault.openSecret<SealedTokens>(db, secretPlaceOf(connector));
  }

  /** Shopify refused the grant: the connector shows it, keeps its row, and an event tells subscribers. */
  async function markAuthFailed(connectorId: string, error: string): Promise<void> {
    await db.transaction().execute(async (trx) => {
      const now = clock.now();
      await setGrantFields(trx, connectorId, { status: "reauth_required", refresh_lease_id: null, refresh_lease_until: null, updated_at: now });
      await recordAuthFailure(trx, connectorId, error, REFRESHER, now, publicUrl);
    });
  }

  return {
    /** Seals fresh tokens for a connector (OAuth callback), replacing any earlier grant. In the caller's transaction. */
    async storeGrant(trx: Database, connector: ConnectorRecord, shop: string, tokens: ShopifyTokens, now: Date): Promise<void> {
      const secretId = await seal(trx, connector, tokens);
      await setConnectorFields(trx, connector.id, { credentials_secret_id: secretId, credential_keys: TOKEN_KEYS });
      const values = {
        shop,
        scope: tokens.scope,
        access_expires_at: tokens.accessExpiresAt,
        refresh_expires_at: tokens.refreshExpiresAt,
        status: "active" as const,
        refresh_lease_id: null,
        refresh_lease_until: null,
        updated_at: now,
      };
      await upsertGrant(trx, connector.id, values, now);
    },

    /** The current access token, for a call to the shop; null when the connector has no usable grant. */
    async openAccessToken(connector: ConnectorRef): Promise<{ shop: string; accessToken: string; expired: boolean } | null> {
      const grant = await selectGrant(db, connector.id);
      if (!grant || grant.status !== "active") return null;
      const tokens = await open(connector);
      if (!tokens) return null;
      const expired = grant.access_expires_at !== null && grant.access_expires_at.getTime() <= clock.now().getTime();
      return { shop: grant.shop, accessToken: tokens.access_token, expired };
    },

    /**
     * Refreshes one connector's tokens if it is this caller's turn. Two
     * callers racing on the same grant: one claims and spends the refresh
     * token, the other is told "skipped" without calling Shopify.
     */
    async refreshGrant(connectorId: string): Promise<RefreshOutcome> {
      if (!shopify) return { outcome: "skipped" };
      const row = await selectGrantForRefresh(db, connectorId);
      if (!row || row.status !== "active" || row.disconnected_at !== null) return { outcome: "skipped" };
      const now = clock.now();
      // Not due (a refresher that finished first made it fresh, or it never expires): nothing to spend.
      if (row.access_expires_at === null || row.access_expires_at.getTime() > now.getTime() + REFRESH_AHEAD_MS) return { outcome: "skipped" };
      if (row.refresh_expires_at !== null && row.refresh_expires_at.getTime() <= now.getTime()) {
        const error = `The Shopify refresh token expired at ${row.refresh_expires_at.toISOString()}; the merchant must approve the app again (POST /v1/integrations/shopify).`;
        await markAuthFailed(connectorId, error);
        return { outcome: "auth_failed", error };
      }

      const leaseId = uuidv7(now);
      const claimed = await claimGrantRefresh(db, { connectorId, generation: row.generation, leaseId, leaseUntil: new Date(now.getTime() + REFRESH_LEASE_MS), now });
      if (!claimed) return { outcome: "skipped" };

      const connector = { id: connectorId, entity_id: row.entity_id };
      const refresh_token = (await open(connector))?.refresh_token;
      if (!refresh_token) {
        const error = "This Shopify grant has no refresh token; the merchant must approve the app again (POST /v1/integrations/shopify).";
        await markAuthFailed(connectorId, error);
        return { outcome: "auth_failed", error };
      }
      let tokens: ShopifyTokens;
      try {
        tokens = await shopify.refreshTokens(claimed.shop, refresh_token, now, { entityId: row.entity_id, connectorId, connectorType: "shopify", purpose: "token_refresh" });
      } catch (err) {
        if (err instanceof ShopifyRejected) {
          const error = `Shopify refused the token refresh (HTTP ${err.status}); the merchant must approve the app again (POST /v1/integrations/shopify).`;
          await markAuthFailed(connectorId, error);
          return { outcome: "auth_failed", error };
        }
        if (!(err instanceof ProviderError)) throw err;
        // Release the claim so a retry can run at once. If Shopify did rotate the token and the answer was
        // lost, the old refresh token still works until the new one is used (Shopify keeps it for that case).
        await releaseGrantClaim(db, connectorId, leaseId);
        return { outcome: "unreachable", error: err.message };
      }

      const refreshedAt = clock.now();
      await db.transaction().execute(async (trx) => {
        // Completes only the generation it claimed; the rotated tokens are sealed in the same transaction.
        const completed = await completeGrantRefresh(trx, connectorId, claimed.generation, {
          scope: tokens.scope || claimed.scope,
          access_expires_at: tokens.accessExpiresAt,
          refresh_expires_at: tokens.refreshExpiresAt ?? claimed.refresh_expires_at,
          generation: claimed.generation + 1,
          refresh_lease_id: null,
          refresh_lease_until: null,
          updated_at: refreshedAt,
        });
        if (!completed) return;
        await seal(trx, connector, tokens);
        // New token values under the same key names: the entry says when, never what.
        await recordChange(trx, { entityId: row.entity_id, actor: REFRESHER, action: "connector.credentials_refreshed", target: { type: "connector", id: connectorId }, at: refreshedAt });
      });
      return { outcome: "refreshed", accessExpiresAt: tokens.accessExpiresAt };
    },

    /** Active grants of connected (not disconnected) connectors whose access token expires within REFRESH_AHEAD_MS. */
    async dueForRefresh(limit: number): Promise<string[]> {
      const horizon = new Date(clock.now().getTime() + REFRESH_AHEAD_MS);
      return grantsDueForRefresh(db, horizon, limit);
    },

    markAuthFailed,
  };
}

export type ShopifyGrants = ReturnType<typeof createShopifyGrants>;

/**
 * Records that a provider refused a connector's credentials: sync_status
 * auth_failed with the reason, the row kept, and — only on the transition,
 * not on every repeat — `connector.auth_failed` emitted and audited in the
 * same transaction. Shared with the health checks. Returns the row.
 */
export async function recordAuthFailure(trx: Database, connectorId: string, error: string, actor: AuditActor, now: Date, publicUrl: string): Promise<ConnectorRecord | undefined> {
  const before = await selectConnectorById(trx, connectorId, { forUpdate: true });
  if (!before) return undefined;
  const row = await updateConnector(trx, connectorId, { sync_status: "auth_failed", sync_error: error, last_sync_at: now, updated_at: now });
  if (before.sync_status !== "auth_failed") {
    await recordConnectorChange(trx, {
      actor,
      action: "connector.auth_failed",
      event: "connector.auth_failed",
      before: toConnectorRow(before, publicUrl),
      after: toConnectorRow(row, publicUrl),
      fields: ["sync_status", "sync_error"],
      at: now,
    });
  }
  return row;
}
