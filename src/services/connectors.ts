import { keysetPage, type Page, type PageOptions } from "./pagination.ts";
import type { Clock } from "../kernel/clock.ts";
import type { CompiledQuery } from "kysely";
import { deleteConnector, deleteConnectors, insertConnectorRow, connectorsOf, lockConnectorStatement, lockConnectorsDisconnectedBefore, markConnectorDisconnected, selectConnector, updateConnector } from "./connector-store.ts";
import { selectGrantStatus } from "./shopify-grant-store.ts";
import { connectorDefinition, type ConnectorDefinition, type ConnectorType } from "../catalog/index.ts";
import { validateConnectorConfig } from "../catalog/validate-config.ts";
import type { Database } from "../db/index.ts";
import type { ConnectorRecord, ConnectorUpdate } from "../db/schema.ts";
import type { Vault } from "../vault/vault.ts";
import type { ApiKeyActor } from "../auth/actor.ts";
import { auditActorOf, systemActor, type AuditActor } from "./audit.ts";
import { recordChange } from "./record-change.ts";
import { recordConnectorChange } from "./connector-changes.ts";
import { ROW_FIELDS, toConnectorRow, type ConnectorRow } from "./connector-row.ts";
import {
  ConflictError,
  ForbiddenFieldError,
  NotFoundError,
  PermissionError,
  ValidationError,
  type Violation,
} from "../kernel/errors.ts";
import { uuidv7 } from "../kernel/ids.ts";
import { applyMergePatch } from "./merge-patch.ts";

export type ConnectorMode = "sandbox" | "live";

/** Row fields a caller may set (seed 000's PATCH allow-list, minus is_active). */
export interface ConnectorFields {
  display_name?: string;
  mode?: ConnectorMode;
  config?: Record<string, unknown>;
  ship_from_name?: string;
  ship_from_address1?: string;
  ship_from_city?: string;
  ship_from_state?: string;
  ship_from_zip?: string;
  seller_id?: string;
  bank_account_id?: string;
}

export interface CreateConnectorInput extends ConnectorFields {
  shop?: string;
}

export interface UpdateConnectorInput extends ConnectorFields {
  is_active?: boolean;
}

/** Seed 001's Mode B answer. */
export interface OAuthRequired {
  object: "integration_oauth_required";
  oauth_url: string;
  expires_at: string;
  /** The shop the merchant approves the app in; the surface words what to do next. */
  shop: string;
}

export type CreateOutcome =
  | { outcome: "created" | "restored"; row: ConnectorRow }
  /** Mode B (Shopify): the merchant must approve the app first (seed 001). */
  | { outcome: "oauth_required"; oauth: OAuthRequired };

export type ListOptions = PageOptions;

/**
 * Fields that must never arrive in a create body (seed 001): secrets go
 * through the write-only credential endpoints, the entity comes from the key.
 */
export const FORBIDDEN_CREATE_FIELDS = [
  "credentials",
  "secret",
  "api_key",
  "access_token",
  "refresh_token",
  "webhook_secret",
  "credentials_secret_arn",
  "entity_id",
] as const;


export function assertNoForbiddenFields(body: unknown): void {
  if (typeof body !== "object" || body === null) return;
  for (const field of FORBIDDEN_CREATE_FIELDS) {
    if (Object.prototype.hasOwnProperty.call(body, field)) {
      throw new ForbiddenFieldError(
        field,
        field === "entity_id"
          ? "The entity is derived from the API key; remove entity_id from the body."
          : { to: "send_secrets_separately" },
      );
    }
  }
}

export interface ConnectorServiceDeps {
  db: Database;
  clock: Clock;
  recoveryWindowDays: number;
  vault: Vault;
  /** PATCHBAY_PUBLIC_URL: the base of each row's inbound_webhook_url. */
  publicUrl: string;
  /** Mode B connectors start here (Shopify OAuth). */
  oauth: { startAuthorization(actor: ApiKeyActor, input: CreateConnectorInput): Promise<CreateOutcome> };
}

/*
 * The connector lifecycle rules, once: the recovery window, the conflict of an
 * existing connector, the restore of a disconnected one and the purge of one
 * past its window. The connector service and the Shopify OAuth service (Mode B)
 * both create connectors through them.
 */

/** Disconnected, and still within the recovery window: a re-POST restores it. */
export function isRecoverableWithin(c: ConnectorRecord, now: Date, recoveryMs: number): boolean {
  return c.disconnected_at !== null && now.getTime() - c.disconnected_at.getTime() < recoveryMs;
}

/** A create for a type the entity already has a connected connector of. `about` names what it is connected to (Shopify: the shop). */
export function alreadyExists(name: string, type: ConnectorType, existing: ConnectorRecord, about?: string): ConflictError {
  return new ConflictError(
    "conflict",
    `A ${name} connector already exists for this entity${about ? ` (${about})` : ""}${existing.is_active ? " and is active" : " (paused)"}.`,
    existing.is_active ? { to: "change_or_delete_connector", connector_type: type } : { to: "resume_connector", connector_type: type },
  );
}

/** Two creates raced and the other one won (the unique index on entity and type). */
export function createdMeanwhile(name: string, type: ConnectorType): ConflictError {
  return new ConflictError("conflict", `A ${name} connector was just created for this entity by another request.`, { to: "show_connector", connector_type: type });
}

/** Re-POST within the recovery window: the connector comes back active, with its sealed secrets; `connector.restored`. */
export async function restoreConnector(
  trx: Database,
  { actor, def, existing, input, now, publicUrl }: { actor: AuditActor; def: ConnectorDefinition; existing: ConnectorRecord; input: CreateConnectorInput; now: Date; publicUrl: string },
): Promise<CreateOutcome> {
  const restored = await updateConnector(trx, existing.id, { ...connectorFieldChanges(def, existing, input), is_active: true, disconnected_at: null, updated_at: now });
  const row = toConnectorRow(restored, publicUrl);
  await recordConnectorChange(trx, { actor, action: "connector.restored", event: "connector.restored", before: toConnectorRow(existing, publicUrl), after: row, at: now });
  return { outcome: "restored", row };
}

/** Past the recovery window the old connector is gone for good, whether or not the purge job has run yet: its sealed secrets with it. */
export async function purgeExpiredConnector(trx: Database, vault: Pick<Vault, "destroySecretsOf">, existing: ConnectorRecord): Promise<void> {
  await deleteConnector(trx, existing.id);
  await vault.destroySecretsOf(trx, [existing.id]);
}

export function createConnectorService({ db, clock, recoveryWindowDays, vault, publicUrl, oauth }: ConnectorServiceDeps) {
  const recoveryMs = recoveryWindowDays * 86_400_000;
  const isRecoverable = (c: ConnectorRecord, now: Date) => isRecoverableWithin(c, now, recoveryMs);

  async function findOwned(actor: ApiKeyActor, type: ConnectorType): Promise<ConnectorRecord> {
    const c = await selectConnector(db, actor.entityId, type);
    if (!c || (c.disconnected_at !== null && !isRecoverable(c, clock.now()))) throw notConnected(type);
    assertKeyMayAct(actor, c.mode);
    return c;
  }

  /**
   * Locks the caller's connector for a write in `trx`: absent or past the
   * window → 404, disconnected → 409 (restore it first), test key on live → 403.
   */
  async function lockWritableConnector(trx: Database, actor: ApiKeyActor, type: ConnectorType): Promise<ConnectorRecord> {
    const existing = await selectConnector(trx, actor.entityId, type, { forUpdate: true });
    const now = clock.now();
    if (!existing || (existing.disconnected_at !== null && !isRecoverable(existing, now))) throw notConnected(type);
    assertKeyMayAct(actor, existing.mode);
    if (existing.disconnected_at !== null) {
      throw new ConflictError(
        "connector_disconnected",
        `The ${type} connector is disconnected.`,
        { to: "restore_connector", connector_type: type, before: new Date(existing.disconnected_at.getTime() + recoveryMs).toISOString() },
      );
    }
    return existing;
  }

  return {
    async listConnectors(actor: ApiKeyActor, opts: ListOptions): Promise<Page<ConnectorRow>> {
      // A test key lives in the sandbox: it does not see live connectors.
      return keysetPage(connectorsOf(db, actor.entityId, actor.mode === "test"), "id", opts, (c) => toConnectorRow(c, publicUrl));
    },

    /**
     * The first statement updateConnector and createConnector make: the
     * caller's connector row, locked. The idempotency claim sends it ahead
     * with itself (db/lookahead.ts), one round trip for both.
     */
    firstWriteStatement(actor: ApiKeyActor, type: ConnectorType): CompiledQuery {
      return lockConnectorStatement(actor.entityId, type);
    },

    async getConnector(actor: ApiKeyActor, type: ConnectorType): Promise<ConnectorRow> {
      return toConnectorRow(await findOwned(actor, type), publicUrl);
    },

    /**
     * POST /v1/integrations/{type}: creates the connector (201), or, within
     * the recovery window after a disconnect, restores it with its sealed
     * credentials (200). An existing connector is a conflict.
     */
    async createConnector(actor: ApiKeyActor, type: ConnectorType, input: CreateConnectorInput): Promise<CreateOutcome> {
      const def = connectorDefinition(type);
      if (def.authMode === "B") return oauth.startAuthorization(actor, input);
      if (input.shop !== undefined) {
        throw new ValidationError(`"shop" applies to Shopify only, not ${type}.`, { param: "shop" });
      }
      const mode = input.mode;
      if (mode) assertKeyMayAct(actor, mode);
      const now = clock.now();

      return db.transaction().execute(async (trx) => {
        const existing = await selectConnector(trx, actor.entityId, type, { forUpdate: true });

        if (existing && existing.disconnected_at === null) throw alreadyExists(type, type, existing);

        if (existing && isRecoverable(existing, now)) {
          assertKeyMayAct(actor, mode ?? existing.mode);
          return restoreConnector(trx, { actor: auditActorOf(actor), def, existing, input, now, publicUrl });
        }

        // The new one starts with no secrets.
        if (existing) await purgeExpiredConnector(trx, vault, existing);

        const config = input.config ?? {};
        const violations = [...validateConnectorConfig(def, config), ...missingRequired(def, input)];
        if (violations.length > 0) throw ValidationError.of(violations);

        const created = await insertConnector(trx, { entityId: actor.entityId, keyMode: actor.mode, def, input, config, isActive: true, now });
        if (!created) throw createdMeanwhile(type, type);
        const row = toConnectorRow(created, publicUrl);
        await recordConnectorChange(trx, { actor: auditActorOf(actor), action: "connector.created", event: "connector.connected", before: null, after: row, at: now });
        return { outcome: "created" as const, row };
      });
    },

    /** PATCH /v1/integrations/{type} (seed 000): allow-listed fields; config merges per RFC 7396. */
    async updateConnector(actor: ApiKeyActor, type: ConnectorType, input: UpdateConnectorInput): Promise<ConnectorRow> {
      const def = connectorDefinition(type);
      if (input.mode) assertKeyMayAct(actor, input.mode);
      return db.transaction().execute(async (trx) => {
        const existing = await lockWritableConnector(trx, actor, type);
        const now = clock.now();
        const update = connectorFieldChanges(def, existing, input);
        if (input.is_active !== undefined && input.is_active !== existing.is_active) update.is_active = input.is_active;
        if (update.is_active === true && def.authMode === "B" && !(await hasActiveGrant(trx, existing.id))) {
          throw new ConflictError(
            "oauth_incomplete",
            `The ${def.name} connector cannot be activated before the merchant approves the app.`,
            { to: "start_oauth", connector_type: type },
          );
        }
        // A PATCH that changes nothing writes nothing: no audit entry, no event.
        if (Object.keys(update).length === 0) return toConnectorRow(existing, publicUrl);
        const updated = await updateConnector(trx, existing.id, { ...update, updated_at: now });
        const row = toConnectorRow(updated, publicUrl);
        // Resuming a paused connector connects it again; any other change is an update.
        const event = update.is_active === true ? "connector.connected" : "connector.updated";
        await recordConnectorChange(trx, { actor: auditActorOf(actor), action: "connector.updated", event, before: toConnectorRow(existing, publicUrl), after: row, at: now });
        return row;
      });
    },

    /**
     * DELETE /v1/integrations/{type} (seed 002): a soft disconnect. The row and
     * its sealed credentials stay for the recovery window, then the purge job
     * destroys them. Disconnecting twice changes nothing.
     */
    async disconnectConnector(actor: ApiKeyActor, type: ConnectorType, known?: ConnectorRecord): Promise<ConnectorRow> {
      // `known`: the caller's row, already read and checked as findOwned does (the /api/v3 DELETE): not read twice.
      const existing = known ?? (await findOwned(actor, type));
      if (existing.disconnected_at !== null) return toConnectorRow(existing, publicUrl);
      const now = clock.now();
      const row = await db.transaction().execute(async (trx) => {
        const updated = await markConnectorDisconnected(trx, existing.id, now);
        if (!updated) return undefined;
        const after = toConnectorRow(updated, publicUrl);
        // The row was read without a lock: only the fields this write sets are compared.
        await recordConnectorChange(trx, {
          actor: auditActorOf(actor),
          action: "connector.disconnected",
          event: "connector.disconnected",
          before: toConnectorRow(existing, publicUrl),
          after,
          fields: ["is_active", "disconnected_at"],
          at: now,
        });
        return after;
      });
      return row ?? toConnectorRow(await findOwned(actor, type), publicUrl);
    },

    /** For services that write beside the connector row (credentials): PATCH's locking and rules. */
    lockWritableConnector,

    /**
     * The purge job's work: deletes up to `limit` connectors whose recovery
     * window has passed, and destroys every secret they own (ciphertext and
     * wrapped data key). Rows are taken with SKIP LOCKED, so purges in several
     * processes, or a restore racing the purge, never collide. Returns how
     * many it purged.
     */
    async purgeExpiredConnectors(limit = 100): Promise<number> {
      return db.transaction().execute(async (trx) => {
        const cutoff = new Date(clock.now().getTime() - recoveryMs);
        const expired = await lockConnectorsDisconnectedBefore(trx, cutoff, limit);
        const ids = expired.map((r) => r.id);
        if (ids.length === 0) return 0;
        await deleteConnectors(trx, ids);
        await vault.destroySecretsOf(trx, ids);
        const now = clock.now();
        for (const c of expired) {
          await recordChange(trx, { entityId: c.entity_id, actor: systemActor("job:purge"), action: "connector.purged", target: { type: "connector", id: c.id }, at: now });
        }
        return ids.length;
      });
    },
  };
}

export type ConnectorService = ReturnType<typeof createConnectorService>;

/** A new connector's mode unless the body says one: a live key's are live, a test key's sandbox. */
export function defaultConnectorMode(keyMode: ApiKeyActor["mode"]): ConnectorMode {
  return keyMode === "live" ? "live" : "sandbox";
}

/** A test key lives in the sandbox: it may not act on live connectors, on any surface. */
export function assertKeyMayAct(actor: ApiKeyActor, mode: ConnectorMode): void {
  if (actor.mode === "test" && mode === "live") {
    throw new PermissionError("live_mode_forbidden", "A test key (ark_test_ent_…) can only act on sandbox connectors.", {
      hint: "Use a live key (ark_live_ent_…) for live connectors, or keep mode \"sandbox\".",
    });
  }
}

function notConnected(type: string): NotFoundError {
  return new NotFoundError("connector_not_found", `No ${type} connector exists for this entity.`, { to: "create_connector", connector_type: type });
}

export { selectConnector };

/**
 * Inserts a new connector with the POST's fields (catalog name by default,
 * and the mode of the key that creates it: live for a live key, sandbox for a test key). Undefined when another request created the entity's
 * connector of that type first (the unique (entity_id, connector_type)).
 */
export function insertConnector(
  trx: Database,
  { entityId, keyMode, def, input, config, isActive, now }: { entityId: string; keyMode: ApiKeyActor["mode"]; def: ConnectorDefinition; input: CreateConnectorInput; config: object; isActive: boolean; now: Date },
): Promise<ConnectorRecord | undefined> {
  return insertConnectorRow(trx, {
    id: uuidv7(now),
    entity_id: entityId,
    connector_type: def.type,
    display_name: input.display_name ?? def.name,
    mode: input.mode ?? defaultConnectorMode(keyMode),
    is_active: isActive,
    config: JSON.stringify(config),
    ...pickRowFields(input),
    created_at: now,
    updated_at: now,
  });
}

function pickRowFields(input: ConnectorFields): Partial<Record<(typeof ROW_FIELDS)[number], string>> {
  const out: Partial<Record<(typeof ROW_FIELDS)[number], string>> = {};
  for (const f of ROW_FIELDS) if (input[f] !== undefined) out[f] = input[f];
  return out;
}

function missingRequired(def: ConnectorDefinition, fields: ConnectorFields): Violation[] {
  return def.requiredFields
    .filter((f) => fields[f] === undefined || fields[f] === "")
    .map((f) => ({ param: f, message: `${def.name} connectors require ${f}.` }));
}

/** The column changes a create-on-restore or PATCH body makes, validated against the merged result. */
export function connectorFieldChanges(def: ConnectorDefinition, existing: ConnectorRecord, input: ConnectorFields): ConnectorUpdate {
  const update: ConnectorUpdate = {};
  if (input.display_name !== undefined && input.display_name !== existing.display_name) update.display_name = input.display_name;
  if (input.mode !== undefined && input.mode !== existing.mode) update.mode = input.mode;
  for (const [f, v] of Object.entries(pickRowFields(input))) {
    if (v !== existing[f as (typeof ROW_FIELDS)[number]]) (update as Record<string, unknown>)[f] = v;
  }
  if (input.config !== undefined) {
    const merged = applyMergePatch(existing.config, input.config);
    const violations = validateConnectorConfig(def, merged);
    if (violations.length > 0) throw ValidationError.of(violations);
    if (JSON.stringify(merged) !== JSON.stringify(existing.config)) update.config = JSON.stringify(merged);
  }
  return update;
}

async function hasActiveGrant(trx: Database, connectorId: string): Promise<boolean> {
  const grant = await selectGrantStatus(trx, connectorId);
  return grant?.status === "active";
}
