import type { Insertable, Selectable } from "kysely";
import type { Database } from "../db/index.ts";
import type { IntegrationLogsTable } from "../db/schema.ts";
import type { Clock } from "../kernel/clock.ts";
import type { CallContext, CallOutcome } from "../providers/call-log.ts";
import { connectorDefinition, type ConnectorType } from "../catalog/index.ts";

/**
 * Integration exception logs as the Sendcloud v3 integrations API defines them
 * (openapi/_original/sendcloud-v3-integrations-openapi.yml, schema
 * `integration-log`): the one shape in which an entry leaves the service.
 */
export interface IntegrationLog {
  id: number;
  integration_id: number | null;
  base_url: string;
  full_url: string | null;
  method: string;
  response_code: number | null;
  response: { headers?: Record<string, unknown> | null; body?: string | Record<string, unknown> | null } | null;
  request: { headers?: Record<string, unknown> | string | null; payload?: Record<string, unknown> | string | null } | null;
  created_at: string;
  exception_type: string | null;
  exception: string | null;
  protected: boolean;
  additional_data: Record<string, unknown> | string;
}

/** POST /api/v3/integrations/{id}/logs (schema `integration-log-create`). */
export interface IntegrationLogInput {
  base_url: string;
  full_url?: string | null;
  method?: string | null;
  response_code?: number | null;
  response?: IntegrationLog["response"];
  request?: IntegrationLog["request"];
  created_at?: string | null;
  exception_type?: string | null;
  exception?: string | null;
}

export const LOG_PAGE_SIZE_DEFAULT = 25;
export const LOG_PAGE_SIZE_MAX = 100;
/** A page never ends inside a group of entries of one instant; a group larger than a page is answered whole, up to this many. */
const MAX_GROUP = 1_000;

export interface LogPage {
  data: IntegrationLog[];
  /** The cursor of the next page (entries strictly older than this instant), or null on the last page. */
  next: string | null;
}

type Row = Selectable<IntegrationLogsTable>;

export function toIntegrationLog(r: Row, integrationId: number | null): IntegrationLog {
  return {
    id: r.id,
    integration_id: integrationId,
    base_url: r.base_url,
    full_url: r.full_url,
    method: r.method,
    response_code: r.response_code,
    response: (r.response ?? null) as IntegrationLog["response"],
    request: (r.request ?? null) as IntegrationLog["request"],
    created_at: r.created_at.toISOString(),
    exception_type: r.exception_type,
    exception: r.exception,
    protected: r.protected,
    additional_data: (r.additional_data ?? "") as IntegrationLog["additional_data"],
  };
}

const PURPOSE_WORDS: Record<string, string> = {
  proxy: "a proxied call",
  verify: "a credential check",
  health_check: "a health check",
  token_mint: "a token request",
  token_refresh: "a token refresh",
};

/**
 * The exception-log entry of a shop connector's failed provider call, or null
 * when the call is not one (not a shop connector, or it did not fail). The
 * detail is already redacted (failedCallDetail); the request payload is never
 * kept, so the entry is `protected`.
 */
export function logEntryOfCall(ctx: CallContext, outcome: CallOutcome, at: Date): Insertable<IntegrationLogsTable> | null {
  const detail = outcome.detail;
  if (!detail) return null;
  const definition = (() => {
    try {
      return connectorDefinition(ctx.connectorType as ConnectorType);
    } catch {
      return null;
    }
  })();
  if (!definition?.isShop) return null;
  const url = new URL(detail.url);
  const what = PURPOSE_WORDS[ctx.purpose] ?? "a call";
  const exception =
    outcome.status === null
      ? `The ${ctx.connectorType} API did not answer ${what} (${outcome.errorClass ?? "no answer"})`
      : `The ${ctx.connectorType} API answered ${outcome.status} to ${what}`;
  return {
    entity_id: ctx.entityId,
    connector_id: ctx.connectorId,
    source: "provider_call",
    base_url: url.origin,
    full_url: detail.url,
    method: outcome.method,
    response_code: outcome.status,
    response: outcome.status === null ? null : JSON.stringify({ headers: detail.responseHeaders, body: detail.responseBody }),
    request: JSON.stringify({ headers: detail.requestHeaders, payload: null }),
    exception_type: outcome.status === null ? `patchbay.provider.${outcome.errorClass ?? "error"}` : "patchbay.provider.http_error",
    exception,
    additional_data: JSON.stringify({ purpose: ctx.purpose, connector_type: ctx.connectorType, latency_ms: Math.round(outcome.latencyMs), request_id: ctx.requestId ?? null }),
    protected: true,
    created_at: at,
  };
}

/** The integration_logs table's one owner. */
export function createIntegrationLogStore({ db, clock }: { db: Database; clock: Clock }) {
  return {
    /** Writes entries made elsewhere (the provider-call log's failed shop calls, a failed webhook). */
    async insertMany(rows: Insertable<IntegrationLogsTable>[]): Promise<void> {
      if (rows.length > 0) await db.insertInto("integration_logs").values(rows).execute();
    },

    /** Deletes entries older than `retentionMs` (the provider-call log's retention), in batches; the number deleted. */
    async purgeOlderThan(retentionMs: number, batch = 5_000): Promise<number> {
      const cutoff = new Date(clock.now().getTime() - retentionMs);
      let total = 0;
      for (;;) {
        const ids = db.selectFrom("integration_logs").select("id").where("created_at", "<", cutoff).limit(batch);
        const gone = await db.deleteFrom("integration_logs").where("id", "in", ids).executeTakeFirst();
        const n = Number(gone.numDeletedRows);
        total += n;
        if (n < batch) return total;
      }
    },

    /** POST …/{id}/logs: an entry shipping software reports itself, as given (created_at defaults to now). */
    async create(entityId: string, connector: { id: string; integrationId: number }, input: IntegrationLogInput): Promise<IntegrationLog> {
      const row = await db
        .insertInto("integration_logs")
        .values({
          entity_id: entityId,
          connector_id: connector.id,
          source: "client",
          base_url: input.base_url,
          full_url: input.full_url ?? null,
          method: input.method ?? "",
          response_code: input.response_code ?? null,
          response: input.response == null ? null : JSON.stringify(input.response),
          request: input.request == null ? null : JSON.stringify(input.request),
          exception_type: input.exception_type ?? null,
          exception: input.exception ?? null,
          created_at: input.created_at ? new Date(input.created_at) : clock.now(),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toIntegrationLog(row, connector.integrationId);
    },

    /**
     * One page of the entries of these connectors (id → integration id),
     * newest first. `before`: entries strictly older than this instant (the
     * previous page's Link cursor). A page never splits entries of one
     * instant, so following the cursor shows every entry exactly once.
     */
    async page(connectors: ReadonlyMap<string, number>, opts: { before?: Date; pageSize: number }): Promise<LogPage> {
      if (connectors.size === 0) return { data: [], next: null };
      const ids = [...connectors.keys()];
      const base = () =>
        db
          .selectFrom("integration_logs")
          .selectAll()
          .where("connector_id", "in", ids)
          .orderBy("created_at", "desc")
          .orderBy("id", "desc");
      let rows = await base()
        .$if(opts.before !== undefined, (q) => q.where("created_at", "<", opts.before!))
        .limit(opts.pageSize + 1)
        .execute();
      let next: string | null = null;
      if (rows.length > opts.pageSize) {
        const boundary = rows[opts.pageSize - 1]!.created_at.getTime();
        const kept = rows.slice(0, opts.pageSize).filter((r) => r.created_at.getTime() !== boundary);
        if (rows[opts.pageSize]!.created_at.getTime() !== boundary) rows = rows.slice(0, opts.pageSize);
        else if (kept.length > 0) rows = kept;
        else rows = await base().where("created_at", "=", new Date(boundary)).limit(MAX_GROUP).execute();
        next = rows[rows.length - 1]!.created_at.toISOString();
      }
      const toLog = (r: Row) => toIntegrationLog(r, connectors.get(r.connector_id) ?? null);
      return { data: rows.map(toLog), next };
    },
  };
}

export type IntegrationLogStore = ReturnType<typeof createIntegrationLogStore>;
