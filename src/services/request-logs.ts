import { sql, type Selectable } from "kysely";
import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import type { RequestLogsTable } from "../db/schema.ts";
import type { KeyMode } from "../auth/api-key-format.ts";
import { redactQuery } from "../providers/call-log.ts";
import { keysetPage, type Page } from "./pagination.ts";
import { plainArray, textArray } from "../db/array-literals.ts";
import { deleteIdsBelow } from "../db/purge.ts";
import { lowestUuidv7At, uuidv7Sequence } from "../kernel/ids.ts";

export interface RequestLogView {
  id: string;
  object: "request_log";
  method: string;
  path: string;
  status: number;
  latency_ms: number;
  client_ip: string;
  request_id: string;
  api_key_id: string;
  mode: KeyMode;
  created_at: string;
}

/** One finished request of an entity's key, as the surface hook hands it over (the URL still raw: redacted when written). */
export interface RequestLogEntry {
  /** Epoch milliseconds. */
  at: number;
  entityId: string;
  keyId: string;
  mode: KeyMode;
  method: string;
  url: string;
  status: number;
  latencyMs: number;
  clientIp: string;
  requestId: string;
}

export interface RequestLogListOptions {
  limit: number;
  startingAfter?: string;
  endingBefore?: string;
  /** One status (404) or a class ("4xx"). */
  status?: number | `${1 | 2 | 3 | 4 | 5}xx`;
  method?: string;
  pathPrefix?: string;
  apiKeyId?: string;
  createdGte?: Date;
  createdLte?: Date;
  includeCount?: boolean;
}

/** Where the batch's "last used" times go: one UPDATE for all the keys of a flush (api-keys.ts owns the table). */
export interface LastUsedSink {
  markUsed(lastUse: ReadonlyMap<string, Date>): Promise<void>;
}

/** Rows the buffer holds before it writes them without waiting for the interval. */
export const FLUSH_ROWS = 1_000;
const MAX_PATH = 2_048;

/**
 * The path as the request log keeps it: secret query values (a connection
 * token, a code, a signature, anything named like a key) replaced by
 * [redacted], and cut at 2 048 characters. Headers and bodies are never seen.
 */
export function requestLogPath(url: string): string {
  const path = url.includes("?") ? redactQuery(url) : url;
  return path.length > MAX_PATH ? path.slice(0, MAX_PATH) : path;
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * The request_logs table's one owner. Recording is one append to an
 * in-memory array (the surfaces' onResponse hook, surfaces/shared/
 * request-log-hook.ts); the rows are written by one multi-row INSERT every
 * `flushMs` (PATCHBAY_REQUEST_LOG_FLUSH_MS, 1 s) or as soon as 1 000 are
 * waiting, followed by one UPDATE of the keys' last_used_at: two statements per
 * flush whatever its size. A crash loses
 * at most the last interval's rows (README, Request logs); a clean shutdown
 * flushes (close()). This process's own listings flush first.
 */
export function createRequestLog({ db, clock, lastUsed, onError, flushMs = 1_000 }: { db: Database; clock: Clock; lastUsed: LastUsedSink; onError?: (err: unknown) => void; flushMs?: number }) {
  let pending: RequestLogEntry[] = [];
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> = Promise.resolve();
  // Each row's id carries its own request's millisecond, in order from one batch to the next.
  const batchIds = uuidv7Sequence();

  /**
   * One INSERT of the whole batch as 11 arrays (unnest): the statement's
   * text and its parameter count are the same whatever the batch size, so
   * neither Kysely nor PostgreSQL does per-row work to build or parse it.
   * The arrays are sent as literals built here (uuids, numbers and modes need
   * no quoting) and the times as epoch milliseconds: the cheapest forms for
   * both ends to write and read.
   */
  async function write(entries: RequestLogEntry[]): Promise<void> {
    const n = entries.length;
    const at = new Array<number>(n);
    const entity = new Array<string>(n), key = new Array<string>(n), mode = new Array<string>(n), method = new Array<string>(n), path = new Array<string>(n);
    const status = new Array<number>(n), latency = new Array<number>(n), ip = new Array<string>(n), req = new Array<string>(n);
    const lastUse = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const e = entries[i]!;
      at[i] = e.at;
      entity[i] = e.entityId;
      key[i] = e.keyId;
      mode[i] = e.mode;
      method[i] = e.method;
      path[i] = requestLogPath(e.url);
      status[i] = e.status;
      latency[i] = Math.max(0, Math.round(e.latencyMs));
      ip[i] = e.clientIp;
      req[i] = e.requestId;
      const seen = lastUse.get(e.keyId);
      if (seen === undefined || seen < e.at) lastUse.set(e.keyId, e.at);
    }
    await sql`insert into request_logs (id, entity_id, api_key_id, mode, method, path, status, latency_ms, client_ip, request_id, created_at)
      select id, entity_id, api_key_id, mode, method, path, status, latency_ms, client_ip, request_id, to_timestamp(at_ms / 1000.0)
        from unnest(${plainArray(batchIds(at))}::uuid[], ${plainArray(entity)}::uuid[], ${plainArray(key)}::uuid[], ${plainArray(mode)}::text[], ${textArray(method)}::text[],
                    ${textArray(path)}::text[], ${plainArray(status)}::int[], ${plainArray(latency)}::int[], ${textArray(ip)}::text[], ${textArray(req)}::text[], ${plainArray(at)}::float8[])
          as u (id, entity_id, api_key_id, mode, method, path, status, latency_ms, client_ip, request_id, at_ms)`.execute(db);
    await lastUsed.markUsed(new Map([...lastUse].map(([k, ms]) => [k, new Date(ms)])));
  }

  /** Writes what is waiting, after any write already under way; never throws. */
  function flush(): Promise<void> {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    const entries = pending;
    pending = [];
    writing = writing.then(async () => {
      if (entries.length === 0) return;
      try {
        await write(entries);
      } catch (err) {
        onError?.(err);
      }
    });
    return writing;
  }

  return {
    /** Buffers one request (written within flushMs): the hot path's whole cost. Never throws. */
    record(entry: Omit<RequestLogEntry, "at">): void {
      (entry as RequestLogEntry).at = clock.now().getTime();
      pending.push(entry as RequestLogEntry);
      if (pending.length >= FLUSH_ROWS) void flush();
      else if (timer === null) {
        timer = setTimeout(() => void flush(), flushMs);
        timer.unref();
      }
    },

    /** How many entries wait for the next flush (tests, /metrics). */
    get pending(): number {
      return pending.length;
    },

    flush,

    /** Writes what is waiting; the app's onClose calls it before the database closes. */
    close: flush,

    /** An entity's requests, newest first, one page (starting_after: older; ending_before: newer). */
    async list(entityId: string, opts: RequestLogListOptions): Promise<Page<RequestLogView>> {
      await flush();
      const filtered = db
        .selectFrom("request_logs")
        .where("entity_id", "=", entityId)
        .$if(typeof opts.status === "number", (q) => q.where("status", "=", opts.status as number))
        .$if(typeof opts.status === "string", (q) => {
          const low = Number(String(opts.status).charAt(0)) * 100;
          return q.where("status", ">=", low).where("status", "<", low + 100);
        })
        .$if(opts.method !== undefined, (q) => q.where("method", "=", opts.method!.toUpperCase()))
        .$if(opts.pathPrefix !== undefined, (q) => q.where(sql<boolean>`path like ${`${escapeLike(opts.pathPrefix!)}%`} escape '\\'`))
        .$if(opts.apiKeyId !== undefined, (q) => q.where("api_key_id", "=", opts.apiKeyId!))
        .$if(opts.createdGte !== undefined, (q) => q.where("id", ">=", lowestUuidv7At(opts.createdGte!)).where("created_at", ">=", opts.createdGte!))
        .$if(opts.createdLte !== undefined, (q) => q.where("id", "<", lowestUuidv7At(new Date(opts.createdLte!.getTime() + 1))).where("created_at", "<=", opts.createdLte!));
      return keysetPage(filtered.selectAll(), "id", opts, toRequestLog);
    },

    /**
     * Deletes entries older than `retentionMs`, in batches; the number
     * deleted. By id: a UUIDv7 id carries its request's millisecond, so the
     * primary key is also the time index and the table needs no other index
     * to be purged (one index fewer to write per logged request).
     */
    async purgeOlderThan(retentionMs: number, batch = 5_000): Promise<number> {
      await flush();
      return deleteIdsBelow(db, "request_logs", lowestUuidv7At(new Date(clock.now().getTime() - retentionMs)), batch);
    },
  };
}

export type RequestLog = ReturnType<typeof createRequestLog>;

/** The one shape in which a logged request leaves the service. */
export function toRequestLog(r: Selectable<RequestLogsTable>): RequestLogView {
  return {
    id: r.id,
    object: "request_log",
    method: r.method,
    path: r.path,
    status: r.status,
    latency_ms: r.latency_ms,
    client_ip: r.client_ip,
    request_id: r.request_id,
    api_key_id: r.api_key_id,
    mode: r.mode,
    created_at: r.created_at.toISOString(),
  };
}
