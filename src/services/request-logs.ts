import { sql, type RawBuilder } from "kysely";
import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import type { KeyMode } from "../auth/api-key-format.ts";
import { redactQuery } from "../providers/call-log.ts";
import { assertOneCursor, type Page } from "./pagination.ts";
import { deleteIdsBelow } from "../db/purge.ts";
import { lowestUuidv7At, uuidv7Ms, uuidv7Sequence } from "../kernel/ids.ts";

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
  let path = url.includes("?") ? redactQuery(url) : url;
  // PostgreSQL's JSON cannot hand out a NUL or a lone surrogate as text: such a character would make its batch unreadable.
  if (UNREADABLE.test(path)) path = path.replace(UNREADABLE_ALL, "\uFFFD");
  return path.length > MAX_PATH ? path.slice(0, MAX_PATH) : path;
}
// With the u flag a surrogate pair is one character and matches neither; a lone half does.
const UNREADABLE = /[\u0000\uD800-\uDFFF]/u;
const UNREADABLE_ALL = /[\u0000\uD800-\uDFFF]/gu;

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** An entry as the listing reads it out of its batch: the view less what toRequestLog adds. */
type EntryRow = Omit<RequestLogView, "object" | "created_at">;

/** The entries of the batches `b` as rows (the JSON layout of migration 0045). */
const ENTRY_COLUMNS = sql`(e->>0)::uuid as id, (e->>1)::uuid as api_key_id, e->>2 as mode, e->>3 as method, e->>4 as path,
  (e->>5)::int as status, (e->>6)::int as latency_ms, e->>7 as client_ip, e->>8 as request_id`;

/** Batches read per listing attempt at first; each further attempt reads four times as many. */
const FIRST_BATCHES = 4;

const and = (conditions: RawBuilder<unknown>[]) => sql.join(conditions, sql` and `);

/**
 * The request log's one owner (table request_log_batches, migration 0045).
 * Recording is one append to an in-memory array (the surfaces' onResponse
 * hook, surfaces/shared/request-log-hook.ts); every `flushMs`
 * (PATCHBAY_REQUEST_LOG_FLUSH_MS, 1 s), or as soon as 1 000 are waiting, the
 * buffer is written as one INSERT of one row per entity (its entries as one
 * JSON text, which PostgreSQL stores without parsing it), followed by one
 * UPDATE of the keys' last_used_at: two statements per flush whatever its
 * size, and no per-request row, index entry or parse in the database. A crash
 * loses at most the last interval's entries (README, Request logs); a clean
 * shutdown flushes (close()). This process's own listings flush first.
 */
export function createRequestLog({ db, clock, lastUsed, onError, flushMs = 1_000 }: { db: Database; clock: Clock; lastUsed: LastUsedSink; onError?: (err: unknown) => void; flushMs?: number }) {
  let pending: RequestLogEntry[] = [];
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> = Promise.resolve();
  // Each entry's id carries its own request's millisecond, in order from one batch to the next.
  const batchIds = uuidv7Sequence();

  async function write(entries: RequestLogEntry[]): Promise<void> {
    const n = entries.length;
    const at = new Array<number>(n);
    for (let i = 0; i < n; i++) at[i] = entries[i]!.at;
    const ids = batchIds(at);
    const byEntity = new Map<string, { first: string; last: string; entries: unknown[][] }>();
    const lastUse = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const e = entries[i]!;
      const id = ids[i]!;
      const entry = [id, e.keyId, e.mode, e.method, requestLogPath(e.url), e.status, Math.max(0, Math.round(e.latencyMs)), e.clientIp, e.requestId];
      const batch = byEntity.get(e.entityId);
      if (batch === undefined) byEntity.set(e.entityId, { first: id, last: id, entries: [entry] });
      else {
        batch.entries.push(entry);
        // A clock set back makes ids go down: the bounds are the lowest and the highest, wherever they are.
        if (id < batch.first) batch.first = id;
        if (id > batch.last) batch.last = id;
      }
      const seen = lastUse.get(e.keyId);
      if (seen === undefined || seen < e.at) lastUse.set(e.keyId, e.at);
    }
    const rows = [...byEntity].map(([entityId, b]) => ({ id: b.last, entity_id: entityId, first_id: b.first, entries: JSON.stringify(b.entries) }));
    await db.insertInto("request_log_batches").values(rows).execute();
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

  /**
   * The conditions of a listing: on the batches (those that can hold a
   * matching entry: a batch spans first_id..id) and on their entries.
   */
  function conditions(entityId: string, opts: RequestLogListOptions, withCursor: boolean) {
    const batch: RawBuilder<unknown>[] = [sql`b.entity_id = ${entityId}`];
    const entry: RawBuilder<unknown>[] = [];
    // A UUIDv7 id carries its request's millisecond: a time bound is an id bound, exactly.
    if (opts.createdGte !== undefined) {
      const low = lowestUuidv7At(opts.createdGte);
      batch.push(sql`b.id >= ${low}`);
      entry.push(sql`id >= ${low}`);
    }
    if (opts.createdLte !== undefined) {
      const high = lowestUuidv7At(new Date(opts.createdLte.getTime() + 1));
      batch.push(sql`b.first_id < ${high}`);
      entry.push(sql`id < ${high}`);
    }
    if (withCursor && opts.startingAfter !== undefined) {
      batch.push(sql`b.first_id < ${opts.startingAfter}`);
      entry.push(sql`id < ${opts.startingAfter}`);
    }
    if (withCursor && opts.endingBefore !== undefined) {
      batch.push(sql`b.id > ${opts.endingBefore}`);
      entry.push(sql`id > ${opts.endingBefore}`);
    }
    if (typeof opts.status === "number") entry.push(sql`status = ${opts.status}`);
    if (typeof opts.status === "string") {
      const low = Number(opts.status.charAt(0)) * 100;
      entry.push(sql`status >= ${low} and status < ${low + 100}`);
    }
    if (opts.method !== undefined) entry.push(sql`method = ${opts.method.toUpperCase()}`);
    if (opts.pathPrefix !== undefined) entry.push(sql`path like ${`${escapeLike(opts.pathPrefix)}%`} escape '\\'`);
    if (opts.apiKeyId !== undefined) entry.push(sql`api_key_id = ${opts.apiKeyId}`);
    return { batch, entry };
  }

  function entriesOf(batch: RawBuilder<unknown>[], entry: RawBuilder<unknown>[]) {
    return sql`(select ${ENTRY_COLUMNS} from request_log_batches b cross join lateral json_array_elements(b.entries::json) as e where ${and(batch)}) as x
      ${entry.length > 0 ? sql`where ${and(entry)}` : sql``}`;
  }

  /**
   * One page, newest first. Batches of one entity overlap when two processes
   * write them, so a page is merged: the entries of the first k batches in the
   * page's direction (by newest entry going back, by oldest entry going
   * forward) are exact once the page's last entry lies beyond every unread
   * batch's bound; until then k grows fourfold.
   */
  async function page(entityId: string, opts: RequestLogListOptions): Promise<EntryRow[]> {
    const forward = opts.endingBefore !== undefined;
    const { batch, entry } = conditions(entityId, opts, true);
    const bound = forward ? sql.ref("b.first_id") : sql.ref("b.id");
    for (let k = FIRST_BATCHES; ; k *= 4) {
      // The first batch not read (null: none left), in the page's direction.
      const { rows: edges } = await sql<{ edge: string }>`select ${bound} as edge from request_log_batches b where ${and(batch)}
        order by ${bound} ${forward ? sql`asc` : sql`desc`} offset ${k} limit 1`.execute(db);
      const edge = edges[0]?.edge ?? null;
      const read = edge === null ? batch : [...batch, forward ? sql`b.first_id < ${edge}` : sql`b.id > ${edge}`];
      const { rows } = await sql<EntryRow>`select * from ${entriesOf(read, entry)} order by id ${forward ? sql`asc` : sql`desc`} limit ${opts.limit + 1}`.execute(db);
      if (edge === null) return rows;
      const last = rows[opts.limit];
      if (last !== undefined && (forward ? last.id < edge : last.id > edge)) return rows;
    }
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
      assertOneCursor(opts);
      await flush();
      const rows = await page(entityId, opts);
      const data = rows.slice(0, opts.limit);
      if (opts.endingBefore !== undefined) data.reverse();
      const result: Page<RequestLogView> = { data: data.map(toRequestLog), hasMore: rows.length > opts.limit };
      if (opts.includeCount) {
        const { batch, entry } = conditions(entityId, opts, false);
        const { rows: counted } = await sql<{ n: string | number }>`select count(*) as n from ${entriesOf(batch, entry)}`.execute(db);
        result.totalCount = Number(counted[0]?.n ?? 0);
      }
      return result;
    },

    /**
     * Deletes the batches whose newest entry is older than `retentionMs`, in
     * runs of `batch`; the number of batches deleted. By id: a batch's id is
     * its newest entry's, a UUIDv7, so the primary key is the time index. An
     * entry can outlive the retention by as long as its batch spans (one
     * flush interval).
     */
    async purgeOlderThan(retentionMs: number, batch = 5_000): Promise<number> {
      await flush();
      return deleteIdsBelow(db, "request_log_batches", lowestUuidv7At(new Date(clock.now().getTime() - retentionMs)), batch);
    },
  };
}

export type RequestLog = ReturnType<typeof createRequestLog>;

/** The one shape in which a logged request leaves the service. */
function toRequestLog(r: EntryRow): RequestLogView {
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
    created_at: new Date(uuidv7Ms(r.id)).toISOString(),
  };
}
