import type { Clock } from "../kernel/clock.ts";
import { listShopConnectors, selectShopConnector, shopConnectorStatement, updateConnector, visibleShopConnectorIds } from "./connector-store.ts";
import type { CompiledQuery } from "kysely";
import { CONNECTOR_TYPES, connectorDefinition, type ConnectorType } from "../catalog/index.ts";
import type { Database } from "../db/index.ts";
import type { ConnectorRecord, ConnectorUpdate } from "../db/schema.ts";
import type { ApiKeyActor } from "../auth/actor.ts";
import { auditActorOf, diffFields } from "./audit.ts";
import { recordChange } from "./record-change.ts";
import { assertKeyMayAct, type ConnectorService } from "./connectors.ts";
import { NotFoundError, ValidationError, type Violation } from "../kernel/errors.ts";
import type { IntegrationLog, IntegrationLogInput, IntegrationLogStore, LogPage } from "./integration-logs.ts";

/** The connector types that are also shop integrations (the catalog's isShop): shopify, amazon, ebay. */
export const SHOP_TYPES = CONNECTOR_TYPES.filter((t) => connectorDefinition(t).isShop);

/** Carriers a service point picker can offer; service_point_carriers takes these codes only. */
export const CARRIER_CODES = [
  "ups", "usps", "fedex", "dhl", "dhl_express", "dpd", "gls", "postnl", "bpost",
  "colissimo", "chronopost", "mondial_relay", "correos", "inpost", "poste_italiane",
  "royal_mail", "evri", "budbee",
] as const;

export const FEEDBACK_TYPES = ["eager", "delayed", "none"] as const;
export type FeedbackType = (typeof FEEDBACK_TYPES)[number];

/** Public sort names → connector columns. */
const SORT_COLUMNS = {
  integration_type: "connector_type",
  created_at: "created_at",
  updated_at: "updated_at",
  last_fetch: "last_sync_at",
  failing_since: "sync_failing_since",
} as const;
export type SortField = keyof typeof SORT_COLUMNS;
export const SORT_FIELDS = Object.keys(SORT_COLUMNS) as SortField[];
export const DEFAULT_SORT = "last_fetch,created_at";

/** The id column is a PostgreSQL integer: anything above cannot exist, and must not reach the query. */
const MAX_ID = 2_147_483_647;

/**
 * The one shape in which a shop integration leaves the service (seed 004).
 * It is a connector row seen from shipping software: shop_name is the
 * connector's display_name, last_fetched_at its last_sync_at. Nothing else
 * of the connector (config, credentials, seller ids) is copied out.
 */
export interface ShopIntegration {
  id: number;
  shop_name: string;
  shop_url: string | null;
  type: ConnectorType;
  service_point_enabled: boolean;
  service_point_carriers: string[];
  webhook_active: boolean;
  webhook_url: string | null;
  feedback_type: FeedbackType;
  started_failing_at: string | null;
  last_fetched_at: string | null;
  created_at: string;
  updated_at: string;
}

export function toShopIntegration(c: ConnectorRecord): ShopIntegration {
  return {
    id: c.shop_integration_id,
    shop_name: c.display_name,
    shop_url: c.shop_url,
    type: c.connector_type as ConnectorType,
    service_point_enabled: c.service_point_enabled,
    service_point_carriers: c.service_point_carriers,
    webhook_active: c.webhook_active,
    webhook_url: c.webhook_url,
    feedback_type: c.feedback_type,
    started_failing_at: c.sync_failing_since?.toISOString() ?? null,
    last_fetched_at: c.last_sync_at?.toISOString() ?? null,
    created_at: c.created_at.toISOString(),
    updated_at: c.updated_at.toISOString(),
  };
}

/** PATCH /api/v3/integrations/{id}: every field optional. */
export interface ShopIntegrationPatch {
  shop_name?: string;
  shop_url?: string;
  service_point_enabled?: boolean;
  service_point_carriers?: string[];
  webhook_active?: boolean;
  webhook_url?: string | null;
  feedback_type?: FeedbackType;
}

interface SortKey {
  column: (typeof SORT_COLUMNS)[SortField];
  direction: "asc" | "desc";
}

/** `sort=last_fetch,-created_at`: comma-separated fields, `-` for descending, each at most once. */
export function parseSort(sort: string): SortKey[] {
  const keys: SortKey[] = [];
  const seen = new Set<string>();
  for (const part of sort.split(",")) {
    const descending = part.startsWith("-");
    const name = descending ? part.slice(1) : part;
    if (!Object.hasOwn(SORT_COLUMNS, name)) {
      throw sortError(`"${name}" is not a sort field; sort on ${SORT_FIELDS.join(", ")}, with "-" in front for descending`);
    }
    if (seen.has(name)) throw sortError(`"${name}" appears twice in sort`);
    seen.add(name);
    keys.push({ column: SORT_COLUMNS[name as SortField], direction: descending ? "desc" : "asc" });
  }
  return keys;
}

function sortError(message: string): ValidationError {
  // `in` says the input is an option of the listing, not a field of the record.
  return new ValidationError(message, { param: "sort", meta: { in: "query" } }, "invalid");
}

export interface ShopIntegrationServiceDeps {
  db: Database;
  clock: Clock;
  connectors: ConnectorService;
  /** The integrations' exception logs (services/integration-logs.ts). */
  logs: IntegrationLogStore;
}

export function createShopIntegrationService({ db, clock, connectors, logs }: ShopIntegrationServiceDeps) {
  const canExist = (id: number) => Number.isSafeInteger(id) && id >= 1 && id <= MAX_ID;

  /**
   * The caller's live (not disconnected) shop connector with this integer id.
   * Another entity's, a non-shop connector, a disconnected one and an id that
   * cannot exist all answer the same 404.
   */
  async function findVisible(executor: Database, actor: ApiKeyActor, id: number, forUpdate = false): Promise<ConnectorRecord> {
    if (!canExist(id)) throw integrationNotFound();
    const c = await selectShopConnector(executor, { entityId: actor.entityId, id, types: SHOP_TYPES, forUpdate });
    if (!c) throw integrationNotFound();
    assertKeyMayAct(actor, c.mode);
    return c;
  }

  return {
    /** The entity's shop integrations, disconnected ones left out; a test key sees sandbox ones only. */
    async listShopIntegrations(actor: ApiKeyActor, sort = DEFAULT_SORT): Promise<ShopIntegration[]> {
      const keys = parseSort(sort);
      // Integrations never fetched or never failing sort after the others, in either direction.
      const rows = await listShopConnectors(db, { entityId: actor.entityId, types: SHOP_TYPES, sandboxOnly: actor.mode === "test", sort: keys });
      return rows.map(toShopIntegration);
    },

    async getShopIntegration(actor: ApiKeyActor, id: number): Promise<ShopIntegration> {
      return toShopIntegration(await findVisible(db, actor, id));
    },

    /**
     * PATCH (seed 004). The rules are checked against the merged record under
     * a row lock, so `{webhook_active: true}` on a record that has a URL is
     * fine, and two concurrent PATCHes cannot together break a rule.
     * `rejected` carries what the surface already found wrong in the input's
     * shape: every violation is answered at once, not only the first.
     */
    /**
     * The first statement updateShopIntegration makes (the integration's
     * connector row, locked), or null for an id that cannot exist. The
     * idempotency claim sends it ahead with itself (db/lookahead.ts).
     */
    firstWriteStatement(actor: ApiKeyActor, id: number): CompiledQuery | null {
      return canExist(id) ? shopConnectorStatement(db, { entityId: actor.entityId, id, types: SHOP_TYPES, forUpdate: true }) : null;
    },

    async updateShopIntegration(actor: ApiKeyActor, id: number, patch: ShopIntegrationPatch, rejected: Violation[] = []): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const existing = await findVisible(trx, actor, id, true);
        const merged = mergeSettings(existing, patch);
        const violations = [...rejected, ...settingsViolations(merged, rejected)];
        if (violations.length > 0) throw ValidationError.of(violations);
        const update = changedColumns(existing, merged);
        // A PATCH that changes nothing writes nothing: no audit entry, no event.
        if (Object.keys(update).length === 0) return;
        const now = clock.now();
        const updated = await updateConnector(trx, existing.id, { ...update, updated_at: now });
        const after = toShopIntegration(updated);
        await recordChange(trx, {
          event: { type: "shop_integration.updated", data: after },
          entityId: updated.entity_id,
          actor: auditActorOf(actor),
          action: "shop_integration.updated",
          // The id /api/v3 knows the record by (its integer id), as the event's data does.
          target: { type: "shop_integration", id: String(after.id) },
          changes: diffFields(toShopIntegration(existing), after, SHOP_INTEGRATION_AUDIT_FIELDS),
          at: now,
        });
      });
    },

    /**
     * GET /api/v3/integrations/logs (id undefined) and …/{id}/logs: the
     * exception logs of the integrations this key can see, newest first, one
     * page. A disconnected integration's entries are not listed (it does not
     * exist on /api/v3 until restored); an unknown id answers 404.
     */
    async listLogs(actor: ApiKeyActor, id: number | undefined, opts: { before?: Date; pageSize: number }): Promise<LogPage> {
      if (id !== undefined) {
        const c = await findVisible(db, actor, id);
        return logs.page(new Map([[c.id, c.shop_integration_id]]), opts);
      }
      const visible = await visibleShopConnectorIds(db, actor.entityId, SHOP_TYPES, actor.mode === "test");
      return logs.page(new Map(visible.map((c) => [c.id, c.shop_integration_id])), opts);
    },

    /** POST …/{id}/logs: shipping software reports a failed exchange with the shop; it shows in the integration's log. */
    async createLog(actor: ApiKeyActor, id: number, input: IntegrationLogInput): Promise<IntegrationLog> {
      const c = await findVisible(db, actor, id);
      return logs.create(c.entity_id, { id: c.id, integrationId: c.shop_integration_id }, input);
    },

    /** DELETE: the connector's own soft disconnect, with its recovery window; a re-POST on /v1 restores the same integration. */
    async disconnectShopIntegration(actor: ApiKeyActor, id: number): Promise<void> {
      const c = await findVisible(db, actor, id);
      await connectors.disconnectConnector(actor, c.connector_type as ConnectorType, c);
    },
  };
}

export type ShopIntegrationService = ReturnType<typeof createShopIntegrationService>;

/** What a PATCH can change, as the audit log shows it (the view's names). */
const SHOP_INTEGRATION_AUDIT_FIELDS = [
  "shop_name",
  "shop_url",
  "service_point_enabled",
  "service_point_carriers",
  "webhook_active",
  "webhook_url",
  "feedback_type",
] as const satisfies readonly (keyof ShopIntegration)[];

type Settings = Pick<
  ConnectorRecord,
  "display_name" | "shop_url" | "service_point_enabled" | "service_point_carriers" | "webhook_active" | "webhook_url" | "feedback_type"
>;

function mergeSettings(c: ConnectorRecord, patch: ShopIntegrationPatch): Settings {
  return {
    display_name: patch.shop_name ?? c.display_name,
    shop_url: patch.shop_url ?? c.shop_url,
    service_point_enabled: patch.service_point_enabled ?? c.service_point_enabled,
    service_point_carriers: patch.service_point_carriers ?? c.service_point_carriers,
    webhook_active: patch.webhook_active ?? c.webhook_active,
    webhook_url: patch.webhook_url !== undefined ? patch.webhook_url : c.webhook_url,
    feedback_type: patch.feedback_type ?? c.feedback_type,
  };
}

/**
 * The rules that span fields, on the merged record. A rule whose fields were
 * already rejected for their shape is not repeated.
 */
function settingsViolations(s: Settings, rejected: Violation[]): Violation[] {
  const bad = new Set(rejected.map((v) => v.param.split(".")[0]));
  const violations: Violation[] = [];
  if (s.webhook_active && s.webhook_url === null && !bad.has("webhook_active") && !bad.has("webhook_url")) {
    // Seed 004's own wording.
    violations.push({ param: "webhook_url", code: "webhook_url_required", message: "Webhook URL required when enable webhook is set to true" });
  }
  if (s.service_point_enabled && s.service_point_carriers.length === 0 && !bad.has("service_point_enabled") && !bad.has("service_point_carriers")) {
    violations.push({
      param: "service_point_carriers",
      code: "service_point_carrier_required",
      message: "At least one service point carrier required when service point delivery is enabled",
    });
  }
  return violations;
}

function changedColumns(c: ConnectorRecord, s: Settings): ConnectorUpdate {
  const update: ConnectorUpdate = {};
  if (s.display_name !== c.display_name) update.display_name = s.display_name;
  if (s.shop_url !== c.shop_url) update.shop_url = s.shop_url;
  if (s.service_point_enabled !== c.service_point_enabled) update.service_point_enabled = s.service_point_enabled;
  if (JSON.stringify(s.service_point_carriers) !== JSON.stringify(c.service_point_carriers)) update.service_point_carriers = s.service_point_carriers;
  if (s.webhook_active !== c.webhook_active) update.webhook_active = s.webhook_active;
  if (s.webhook_url !== c.webhook_url) update.webhook_url = s.webhook_url;
  if (s.feedback_type !== c.feedback_type) update.feedback_type = s.feedback_type;
  return update;
}

function integrationNotFound(): NotFoundError {
  return new NotFoundError("not_found", "The Integration could not be found with the search criteria given", "GET /api/v3/integrations lists the integrations this key can see.");
}
