import { keysetPage, type Page, type PageOptions } from "./pagination.ts";
import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import type { ProviderCallPurpose, ProviderCallsTable } from "../db/schema.ts";
import type { Insertable, Selectable } from "kysely";
import { uuidv7 } from "../kernel/ids.ts";
import type { CallContext, CallOutcome } from "../providers/call-log.ts";
import { logEntryOfCall, type IntegrationLogStore } from "./integration-logs.ts";
import type { IntegrationLogsTable } from "../db/schema.ts";

/** A provider call as its log shows it: the row's columns (types from the table), byte counts as numbers, the time as text. */
export type ProviderCallView = { id: string; object: "provider_call" } & Pick<
  Selectable<ProviderCallsTable>,
  "connector_id" | "connector_type" | "purpose" | "method" | "path" | "status" | "latency_ms" | "error_class" | "request_id"
> & { bytes_sent: number; bytes_received: number; created_at: string };

export type StatusClass = "2xx" | "3xx" | "4xx" | "5xx" | "error";

export interface CallListOptions extends PageOptions {
  statusClass?: StatusClass;
  since?: Date;
  until?: Date;
}

/** Rows the buffer holds before it writes them without waiting for the interval. */
const FLUSH_ROWS = 500;

/**
 * The provider_calls table's one owner: records every outbound call made
 * for a connector (never a header value or a body), lists them for the
 * logs endpoint and purges them past the retention.
 *
 * Recording is buffered: rows are written by one multi-row INSERT every
 * `flushMs` (PATCHBAY_PROVIDER_LOG_FLUSH_MS, 100 ms) or as soon as 500 are
 * waiting, instead of one INSERT and one commit per call on the proxy's hot
 * path. A crash loses at most the last interval's rows (README, Provider-call
 * log); a clean shutdown flushes (close()). This process's own listings flush
 * first, so a call is listed as soon as it has been recorded here.
 */
export function createProviderCallLog({
  db,
  clock,
  onError,
  flushMs = 100,
  integrationLogs,
}: {
  db: Database;
  clock: Clock;
  onError?: (err: unknown) => void;
  flushMs?: number;
  /** Where a shop connector's failed calls also go: its exception log (/api/v3/integrations/{id}/logs). */
  integrationLogs?: Pick<IntegrationLogStore, "insertMany">;
}) {
  let pending: Insertable<ProviderCallsTable>[] = [];
  let pendingLogs: Insertable<IntegrationLogsTable>[] = [];
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> = Promise.resolve();

  /** Writes what is waiting, after any write already under way; never throws. */
  function flush(): Promise<void> {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    const rows = pending;
    const logs = pendingLogs;
    pending = [];
    pendingLogs = [];
    writing = writing.then(async () => {
      if (rows.length > 0) {
        try {
          await db.insertInto("provider_calls").values(rows).execute();
        } catch (err) {
          onError?.(err);
        }
      }
      if (logs.length > 0) {
        try {
          await integrationLogs?.insertMany(logs);
        } catch (err) {
          onError?.(err);
        }
      }
    });
    return writing;
  }

  return {
    /** Buffers one call (written within flushMs). Never throws: a log that cannot be written must not fail the call it describes. */
    record(ctx: CallContext, outcome: CallOutcome): void {
      const now = clock.now();
      pending.push({
        id: uuidv7(now),
        entity_id: ctx.entityId,
        connector_id: ctx.connectorId,
        connector_type: ctx.connectorType,
        purpose: ctx.purpose,
        method: outcome.method,
        path: outcome.path.slice(0, 2048),
        status: outcome.status,
        latency_ms: Math.max(0, Math.round(outcome.latencyMs)),
        bytes_sent: outcome.bytesSent,
        bytes_received: outcome.bytesReceived,
        error_class: outcome.errorClass,
        request_id: ctx.requestId ?? null,
        created_at: now,
      });
      const entry = integrationLogs ? logEntryOfCall(ctx, outcome, now) : null;
      if (entry) pendingLogs.push(entry);
      if (pending.length >= FLUSH_ROWS) void flush();
      else if (timer === null) {
        timer = setTimeout(() => void flush(), flushMs);
        timer.unref();
      }
    },

    flush,

    /** Writes what is waiting; the app's onClose calls it before the database closes. */
    close: flush,

    /** A connector's calls, newest first, one page (cursor: the last id seen). */
    async list(connectorId: string, opts: CallListOptions): Promise<Page<ProviderCallView>> {
      await flush();
      const filtered = db
        .selectFrom("provider_calls")
        .selectAll()
        .where("connector_id", "=", connectorId)
        .$if(opts.since !== undefined, (q) => q.where("created_at", ">=", opts.since!))
        .$if(opts.until !== undefined, (q) => q.where("created_at", "<", opts.until!))
        .$if(opts.statusClass === "error", (q) => q.where("status", "is", null))
        .$if(opts.statusClass !== undefined && opts.statusClass !== "error", (q) => {
          const low = Number(opts.statusClass!.charAt(0)) * 100;
          return q.where("status", ">=", low).where("status", "<", low + 100);
        });
      return keysetPage(filtered, "id", opts, toProviderCall);
    },

    /** Deletes calls older than `retentionMs`, in batches; the number deleted. */
    async purgeOlderThan(retentionMs: number, batch = 5_000): Promise<number> {
      await flush();
      const cutoff = new Date(clock.now().getTime() - retentionMs);
      let total = 0;
      for (;;) {
        const ids = db.selectFrom("provider_calls").select("id").where("created_at", "<", cutoff).limit(batch);
        const gone = await db.deleteFrom("provider_calls").where("id", "in", ids).executeTakeFirst();
        const n = Number(gone.numDeletedRows);
        total += n;
        if (n < batch) return total;
      }
    },
  };
}

export type ProviderCallLog = ReturnType<typeof createProviderCallLog>;

/** The one shape in which a logged call leaves the service. */
export function toProviderCall(r: Selectable<ProviderCallsTable>): ProviderCallView {
  return {
    id: r.id,
    object: "provider_call",
    connector_id: r.connector_id,
    connector_type: r.connector_type,
    purpose: r.purpose,
    method: r.method,
    path: r.path,
    status: r.status,
    latency_ms: r.latency_ms,
    bytes_sent: Number(r.bytes_sent),
    bytes_received: Number(r.bytes_received),
    error_class: r.error_class,
    request_id: r.request_id,
    created_at: r.created_at.toISOString(),
  };
}
