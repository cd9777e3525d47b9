import { createHash } from "node:crypto";
import { selectConnectorById, updateConnector } from "./connector-store.ts";
import { deleteGrant, selectGrantStatus } from "./shopify-grant-store.ts";
import type { Advice } from "../kernel/advice.ts";
import type { Clock } from "../kernel/clock.ts";
import { connectorDefinition } from "../catalog/index.ts";
import { validateConnectorConfig } from "../catalog/validate-config.ts";
import type { Config } from "../config.ts";
import type { Database } from "../db/index.ts";
import type { ConnectorRecord, ShopifyOAuthStateRecord } from "../db/schema.ts";
import { ProviderError } from "../providers/client.ts";
import { authorizeUrl, normalizeShopDomain, ShopifyRejected, verifyCallbackHmac, type ShopifyApi } from "../providers/shopify.ts";
import type { ApiKeyActor } from "../auth/actor.ts";
import { auditActorOf } from "./audit.ts";
import { recordChange } from "./record-change.ts";
import { recordConnectorChange } from "./connector-changes.ts";
import { toConnectorRow, type ConnectorRow } from "./connector-row.ts";
import {
  alreadyExists,
  assertKeyMayAct,
  createdMeanwhile,
  connectorFieldChanges,
  insertConnector,
  isRecoverableWithin,
  purgeExpiredConnector,
  restoreConnector,
  selectConnector,
  type CreateConnectorInput,
  type CreateOutcome,
  type OAuthRequired,
} from "./connectors.ts";
import { ConflictError, NotConfiguredError, PermissionError, UnprocessableError, UpstreamError, ValidationError } from "../kernel/errors.ts";
import { randomBase62 } from "../kernel/ids.ts";
import type { ShopifyGrants } from "./shopify-grants.ts";
import type { Vault } from "../vault/vault.ts";

/** How long an authorize URL (its state) stays usable. */
export const OAUTH_STATE_TTL_MS = 10 * 60_000;

export interface ShopifyOAuthDeps {
  db: Database;
  clock: Clock;
  config: Pick<Config, "shopify" | "publicUrl" | "recoveryWindowDays">;
  /** Where Shopify redirects the merchant's browser (redirect_uri): the composition root names the surface's route. */
  callbackUrl: string;
  /** null when SHOPIFY_CLIENT_ID / SHOPIFY_CLIENT_SECRET are not set. */
  shopify: ShopifyApi | null;
  grants: ShopifyGrants;
  vault: Pick<Vault, "destroySecretsOf">;
}

/**
 * Shopify's Mode B: POST starts an authorization (a pending row and a
 * single-use state bound to entity, row and shop); the callback proves it
 * came from Shopify (HMAC), spends the state, exchanges the code and only
 * then touches the row. Any failure before that leaves the row as it was.
 */
export function createShopifyOAuthService({ db, clock, config, callbackUrl, shopify, grants, vault }: ShopifyOAuthDeps) {
  const { publicUrl } = config;
  const recoveryMs = config.recoveryWindowDays * 86_400_000;
  const def = connectorDefinition("shopify");

  function requireApp(): { api: ShopifyApi; clientId: string; clientSecret: string } {
    const { clientId, clientSecret } = config.shopify;
    if (!shopify || !clientId || !clientSecret) {
      throw new NotConfiguredError(
        "shopify_not_configured",
        "Shopify OAuth is not configured on this server.",
        "Set SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET to your Shopify app's client credentials (and PATCHBAY_PUBLIC_URL to the address Shopify redirects browsers to), then restart Patchbay.",
      );
    }
    return { api: shopify, clientId, clientSecret };
  }

  /**
   * A pending row, one whose grant Shopify refused, or a disconnected one for
   * another shop: authorize it afresh. Pending is not failing, so sync_status
   * is null until the callback (shop integrations count other statuses as failing).
   */
  async function reusePending(trx: Database, existing: ConnectorRecord, grantShop: string | undefined, shop: string, input: CreateConnectorInput, now: Date) {
    const row = await updateConnector(trx, existing.id, { ...connectorFieldChanges(def, existing, input), is_active: false, disconnected_at: null, sync_status: null, sync_error: null, updated_at: now });
    if (grantShop !== undefined && grantShop !== shop) await deleteGrant(trx, existing.id);
    // The newest authorize URL is the only one that works.
    await trx.deleteFrom("shopify_oauth_states").where("connector_id", "=", existing.id).where("used_at", "is", null).execute();
    return row;
  }

  async function createPending(trx: Database, actor: ApiKeyActor, input: CreateConnectorInput, now: Date): Promise<ConnectorRecord> {
    const config = input.config ?? {};
    const violations = validateConnectorConfig(def, config);
    if (violations.length > 0) throw ValidationError.of(violations);
    const row = await insertConnector(trx, { entityId: actor.entityId, keyMode: actor.mode, def, input, config, isActive: false, now });
    if (!row) throw createdMeanwhile("Shopify", "shopify");
    return row;
  }

  async function issueState(trx: Database, row: ConnectorRecord, shop: string, clientId: string, now: Date): Promise<OAuthRequired> {
    const state = randomBase62(43);
    const expiresAt = new Date(now.getTime() + OAUTH_STATE_TTL_MS);
    await trx
      .insertInto("shopify_oauth_states")
      .values({ state_hash: hashState(state), entity_id: row.entity_id, connector_id: row.id, shop, created_at: now, expires_at: expiresAt })
      .execute();
    return {
      object: "integration_oauth_required",
      oauth_url: authorizeUrl({ shop, clientId, scopes: config.shopify.scopes, redirectUri: callbackUrl, state }),
      expires_at: expiresAt.toISOString(),
      shop,
    };
  }

  return {
    /**
     * POST /v1/integrations/shopify `{shop, mode}`. Restores a connector
     * disconnected within the recovery window for the same shop (its sealed
     * tokens come back); otherwise creates or reuses the pending row and
     * answers the authorize URL. A connector with working tokens is a conflict.
     */
    async startAuthorization(actor: ApiKeyActor, input: CreateConnectorInput): Promise<CreateOutcome> {
      const { clientId } = requireApp();
      const shop = requireShopDomain(input.shop);
      if (input.mode) assertKeyMayAct(actor, input.mode);
      const now = clock.now();

      return db.transaction().execute(async (trx) => {
        const existing = await selectConnector(trx, actor.entityId, "shopify", { forUpdate: true });
        const who = auditActorOf(actor);
        if (!existing) {
          const pending = await createPending(trx, actor, input, now);
          // Pending is not connected: an audit entry, no event (connector.connected comes with the callback).
          await recordConnectorChange(trx, { actor: who, action: "connector.oauth_started", before: null, after: toConnectorRow(pending, publicUrl), at: now });
          return { outcome: "oauth_required", oauth: await issueState(trx, pending, shop, clientId, now) };
        }

        assertKeyMayAct(actor, input.mode ?? existing.mode);
        const grant = await selectGrantStatus(trx, existing.id);
        const connected = existing.disconnected_at === null;
        const recoverable = isRecoverableWithin(existing, now, recoveryMs);
        if (connected && grant?.status === "active") throw alreadyExists("Shopify", "shopify", existing, grant.shop);
        // Same shop: the connector and its sealed tokens come back.
        if (recoverable && grant?.shop === shop) return restoreConnector(trx, { actor: who, def, existing, input, now, publicUrl });

        let row: ConnectorRecord;
        let before: ConnectorRecord | null = existing;
        if (connected || recoverable) {
          row = await reusePending(trx, existing, grant?.shop, shop, input, now);
        } else {
          await purgeExpiredConnector(trx, vault, existing);
          row = await createPending(trx, actor, input, now);
          before = null;
        }
        await recordConnectorChange(trx, { actor: who, action: "connector.oauth_started", before: before && toConnectorRow(before, publicUrl), after: toConnectorRow(row, publicUrl), at: now });
        return { outcome: "oauth_required", oauth: await issueState(trx, row, shop, clientId, now) };
      });
    },

    /**
     * GET /v1/integrations/shopify/oauth/callback. Checks, in order: the
     * HMAC, the shop domain, the state (known, unused, unexpired, issued for
     * this shop, its connector unchanged); spends the state; exchanges the
     * code; then, in one transaction, seals the tokens and activates the row.
     */
    async completeAuthorization(query: URLSearchParams): Promise<ConnectorRow> {
      const { api, clientSecret } = requireApp();
      const params = callbackParams(query);
      if (!verifyCallbackHmac(query, clientSecret)) {
        throw new PermissionError("hmac_invalid", "The callback's hmac does not match its parameters: it was not signed by Shopify with this app's secret.", {
          advice: { to: "restart_oauth", reason: "follow_new_url" },
        });
      }
      const shop = normalizeShopDomain(params.shop);
      if (!shop) throw new ValidationError(`"${params.shop}" is not a Shopify shop domain.`, { param: "shop" }, "shop_invalid");

      const state = await db.selectFrom("shopify_oauth_states").selectAll().where("state_hash", "=", hashState(params.state)).executeTakeFirst();
      const now = clock.now();
      assertStateUsable(state, shop, now);
      const connector = await selectConnectorById(db, state.connector_id);
      assertConnectorAwaits(connector, state);

      // Spend the state before calling Shopify: of two racing callbacks, only one gets past here.
      const spent = await db
        .updateTable("shopify_oauth_states")
        .set({ used_at: now })
        .where("state_hash", "=", state.state_hash)
        .where("used_at", "is", null)
        .executeTakeFirst();
      if (Number(spent.numUpdatedRows) !== 1) throw stateUsed();

      const tokens = await exchange(api, shop, params.code, now);
      return db.transaction().execute(async (trx) => {
        const current = await selectConnectorById(trx, state.connector_id, { forUpdate: true });
        assertConnectorAwaits(current, state);
        const approvedAt = clock.now();
        await grants.storeGrant(trx, current, shop, tokens, approvedAt);
        // The shop's address also fills the shop integration's shop_url (/api/v3) unless someone set one.
        const row = await updateConnector(trx, current.id, { is_active: true, sync_status: "connected", sync_error: null, last_sync_at: approvedAt, updated_at: approvedAt, shop_url: current.shop_url ?? `https://${shop}` });
        const projected = toConnectorRow(row, publicUrl);
        await recordChange(trx, {
          event: { type: "connector.connected", data: projected },
          entityId: row.entity_id,
          actor: { type: "system", id: "shopify_oauth" },
          action: "connector.oauth_completed",
          target: { type: "connector", id: row.id },
          changes: { is_active: { before: current.is_active, after: true }, sync_status: { before: current.sync_status, after: "connected" } },
          at: approvedAt,
        });
        return projected;
      });
    },

    /** Drops states that can no longer be used (housekeeping for the refresh job). */
    async purgeExpiredStates(): Promise<number> {
      const res = await db.deleteFrom("shopify_oauth_states").where("expires_at", "<", new Date(clock.now().getTime() - OAUTH_STATE_TTL_MS)).executeTakeFirst();
      return Number(res.numDeletedRows);
    },
  };
}

export type ShopifyOAuthService = ReturnType<typeof createShopifyOAuthService>;

function hashState(state: string): Buffer {
  return createHash("sha256").update(state).digest();
}

function requireShopDomain(shop: string | undefined): string {
  if (shop === undefined || shop === "") {
    throw new UnprocessableError("shop_required", 'Shopify connects through OAuth: send "shop", the store\'s myshopify.com domain.', {
      param: "shop",
      hint: '{"shop": "mystore.myshopify.com", "mode": "live"}',
    });
  }
  const normalized = normalizeShopDomain(shop);
  if (!normalized) {
    throw new UnprocessableError("invalid_shop_domain", `"shop" must be a Shopify shop domain like mystore.myshopify.com.`, {
      param: "shop",
      hint: "Use the store's permanent myshopify.com domain (Shopify admin → Settings → Domains), without https:// or a path.",
    });
  }
  return normalized;
}

/** The parameters Shopify sends, each exactly once. */
function callbackParams(query: URLSearchParams): { code: string; shop: string; state: string } {
  for (const name of ["code", "hmac", "shop", "state"]) {
    const values = query.getAll(name);
    if (values.length !== 1 || values[0] === "") {
      throw new ValidationError(
        values.length > 1 ? `The callback carries "${name}" more than once.` : `The callback lacks "${name}".`,
        { param: name, advice: { to: "oauth_callback_misuse" } },
        "oauth_callback_invalid",
      );
    }
  }
  return { code: query.get("code")!, shop: query.get("shop")!, state: query.get("state")! };
}

function stateUsed(): ConflictError {
  return new ConflictError("state_used", "This authorization was already completed or attempted: a state works once.", { to: "restart_oauth" });
}

function assertStateUsable(state: ShopifyOAuthStateRecord | undefined, shop: string, now: Date): asserts state is ShopifyOAuthStateRecord {
  const again: Advice = { to: "restart_oauth" };
  if (!state) throw new ValidationError("The callback's state was not issued by this server, or was replaced by a newer authorization.", { param: "state", advice: again }, "state_unknown");
  if (state.used_at !== null) throw stateUsed();
  if (state.expires_at.getTime() <= now.getTime()) {
    throw new ValidationError(`The authorization expired at ${state.expires_at.toISOString()}.`, { param: "state", advice: again }, "state_expired");
  }
  if (state.shop !== shop) {
    throw new PermissionError("shop_mismatch", `The callback is for ${shop}, but this authorization was issued for another shop.`, { advice: again });
  }
}

/** The state's connector is still the pending row it was issued for. */
function assertConnectorAwaits(connector: ConnectorRecord | undefined, state: ShopifyOAuthStateRecord): asserts connector is ConnectorRecord {
  if (!connector || connector.entity_id !== state.entity_id || connector.connector_type !== "shopify" || connector.disconnected_at !== null) {
    throw new ConflictError("connector_changed", "The Shopify connector this authorization was for was removed or disconnected meanwhile.", { to: "restart_oauth" });
  }
}

async function exchange(api: ShopifyApi, shop: string, code: string, now: Date) {
  try {
    return await api.exchangeCode(shop, code, now);
  } catch (err) {
    if (err instanceof ShopifyRejected) {
      throw new ValidationError(`Shopify refused the authorization code (HTTP ${err.status}).`, { param: "code", advice: { to: "restart_oauth", reason: "code_spent" } }, "oauth_code_rejected");
    }
    if (err instanceof ProviderError) throw new UpstreamError("shopify_unavailable", `${err.message}; the authorization was not completed.`, { to: "retry_oauth" });
    throw err;
  }
}
