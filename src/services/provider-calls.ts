import { keysetPage, type Page, type PageOptions } from "./pagination.ts";
import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import type { ProviderCallPurpose, ProviderCallsTable } from "../db/schema.ts";
import { sql, type Insertable, type Selectable } from "kysely";
import { deleteIdsBelow } from "../db/purge.ts";
import { lowestUuidv7At, uuidv7Sequence } from "../kernel/ids.ts";
import { plainArray, textArray } from "../db/array-literals.ts";
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
const MAX_PATH = 2048;

/** One recorded call as the buffer keeps it until the flush: the caller's own objects, and the time (epoch ms). */
interface PendingCall {
  at: number;
  ctx: CallContext;
  outcome: CallOutcome;
}

/**
 * One INSERT of a whole batch as 14 arrays (unnest): the statement's text and
 * its parameter count are the same whatever the batch size, the arrays are
 * literals built here in one pass (uuids and numbers unquoted), the times
 * epoch milliseconds, and the ids are made for the whole batch at once.
 */
async function insertCalls(db: Database, ids: (times: readonly number[]) => string[], calls: readonly PendingCall[]): Promise<void> {
  const n = calls.length;
  const at = new Array<number>(n), entity = new Array<string>(n), connector = new Array<string>(n), type = new Array<string>(n), purpose = new Array<string>(n);
  const method = new Array<string>(n), path = new Array<string>(n), status = new Array<number | null>(n), latency = new Array<number>(n);
  const sent = new Array<number>(n), received = new Array<number>(n), errorClass = new Array<string | null>(n), request = new Array<string | null>(n);
  for (let i = 0; i < n; i++) {
    const { at: ms, ctx, outcome } = calls[i]!;
    at[i] = ms;
    entity[i] = ctx.entityId;
    connector[i] = ctx.connectorId;
    type[i] = ctx.connectorType;
    purpose[i] = ctx.purpose;
    method[i] = outcome.method;
    path[i] = outcome.path.length > MAX_PATH ? outcome.path.slice(0, MAX_PATH) : outcome.path;
    status[i] = outcome.status;
    latency[i] = Math.max(0, Math.round(outcome.latencyMs));
    sent[i] = Math.max(0, Math.trunc(outcome.bytesSent));
    received[i] = Math.max(0, Math.trunc(outcome.bytesReceived));
    errorClass[i] = outcome.errorClass;
    request[i] = ctx.requestId ?? null;
  }
  await sql`insert into provider_calls (id, entity_id, connector_id, connector_type, purpose, method, path, status, latency_ms, bytes_sent, bytes_received, error_class, request_id, created_at)
    select id, entity_id, connector_id, connector_type, purpose, method, path, status, latency_ms, bytes_sent, bytes_received, error_class, request_id, to_timestamp(at_ms / 1000.0)
      from unnest(${plainArray(ids(at))}::uuid[], ${plainArray(entity)}::uuid[], ${plainArray(connector)}::uuid[], ${textArray(type)}::text[], ${textArray(purpose)}::text[],
                  ${textArray(method)}::text[], ${textArray(path)}::text[], ${plainArray(status)}::int[], ${plainArray(latency)}::int[], ${plainArray(sent)}::bigint[],
                  ${plainArray(received)}::bigint[], ${textArray(errorClass)}::text[], ${textArray(request)}::text[], ${plainArray(at)}::float8[])
        as u (id, entity_id, connector_id, connector_type, purpose, method, path, status, latency_ms, bytes_sent, bytes_received, error_class, request_id, at_ms)`.execute(db);
}

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
  let pending: PendingCall[] = [];
  const ids = uuidv7Sequence();
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
          await insertCalls(db, ids, rows);
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
      // Kept as handed over (the proxy makes a fresh context and outcome per call); the row is built at the flush.
      pending.push({ at: now.getTime(), ctx, outcome });
      const entry = integrationLogs && outcome.detail ? logEntryOfCall(ctx, outcome, now) : null;
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
        // Also as id ranges: the (connector_id, id) index bounds the scan (a UUIDv7 id carries its call's millisecond).
        .$if(opts.since !== undefined, (q) => q.where("id", ">=", lowestUuidv7At(opts.since!)).where("created_at", ">=", opts.since!))
        .$if(opts.until !== undefined, (q) => q.where("id", "<", lowestUuidv7At(new Date(opts.until!.getTime() + 1))).where("created_at", "<", opts.until!))
        .$if(opts.statusClass === "error", (q) => q.where("status", "is", null))
        .$if(opts.statusClass !== undefined && opts.statusClass !== "error", (q) => {
          const low = Number(opts.statusClass!.charAt(0)) * 100;
          return q.where("status", ">=", low).where("status", "<", low + 100);
        });
      return keysetPage(filtered, "id", opts, toProviderCall);
    },

    /**
     * Deletes calls older than `retentionMs`, in batches; the number deleted.
     * By id: a UUIDv7 id carries its call's millisecond, so the primary key is
     * also the time index (migration 0042).
     */
    async purgeOlderThan(retentionMs: number, batch = 5_000): Promise<number> {
      await flush();
      return deleteIdsBelow(db, "provider_calls", lowestUuidv7At(new Date(clock.now().getTime() - retentionMs)), batch);
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
