import type { CompiledQuery, DatabaseConnection, Dialect, Driver, QueryResult, TransactionSettings } from "kysely";

/**
 * Which in-memory copies of database rows must be forgotten, and when. The
 * hot paths keep admitted API keys (src/services/admission.ts) and proxied
 * connectors with their sealed credentials (src/services/credentials.ts) in
 * memory for at most PATCHBAY_CACHE_TTL_MS; this feed tells them sooner:
 *
 * - this process's own writes, seen at the driver: a statement that writes
 *   one of the watched tables announces it when it completes, and again when
 *   its transaction commits or rolls back (so a copy read meanwhile, before
 *   the commit, is forgotten too);
 * - other processes' writes (PostgreSQL): the triggers of migration 0031
 *   `pg_notify('patchbay_changes', '<table>:<id>')` at commit, and one
 *   connection per process LISTENs (`listenForChanges`). On Patchbay's own
 *   connections the notifications are sent right behind the COMMIT instead,
 *   in a transaction of their own (migration 0044, pg-driver.ts): a NOTIFY
 *   inside the writing transaction would hold PostgreSQL's one notify lock
 *   through the commit's WAL flush, one committing writer at a time.
 *
 * A missed notification (the listening connection lost, a write made with
 * the triggers disabled) costs at most the TTL: the bound the README states.
 */

export const WATCHED_TABLES = ["api_keys", "connectors", "vault_secrets"] as const;
export type WatchedTable = (typeof WATCHED_TABLES)[number];

/** `id` absent: anything of that table may have changed (a write seen at the driver names no row). */
export interface Change {
  table: WatchedTable;
  id?: string;
}

export interface ChangeFeed {
  /** Every subscriber hears every change; returns the unsubscribe. */
  subscribe(fn: (change: Change) => void): () => void;
  publish(change: Change): void;
  /**
   * Bumped by every change of `table`: a copy of that table's rows read while
   * it moved may be stale. Writes of the other tables leave it alone, so a
   * burst of connector writes does not make every admitted key look stale.
   */
  epochOf(table: WatchedTable): number;
  close(): Promise<void>;
}

export function createChangeFeed(opts: { listen?: () => Promise<() => Promise<void>> } = {}): ChangeFeed {
  const subscribers = new Set<(change: Change) => void>();
  const epochs = new Map<WatchedTable, number>();
  let stopListening: Promise<(() => Promise<void>) | null> | null = null;
  const feed: ChangeFeed = {
    epochOf(table) {
      return epochs.get(table) ?? 0;
    },
    subscribe(fn) {
      subscribers.add(fn);
      if (opts.listen && !stopListening) stopListening = opts.listen().catch(() => null);
      return () => subscribers.delete(fn);
    },
    publish(change) {
      epochs.set(change.table, (epochs.get(change.table) ?? 0) + 1);
      for (const fn of subscribers) fn(change);
    },
    async close() {
      subscribers.clear();
      const stop = await stopListening;
      await stop?.();
    },
  };
  return feed;
}

const WRITE = /\b(?:update|insert\s+into|delete\s+from|merge\s+into|truncate(?:\s+table)?)\s+(?:only\s+)?"?(api_keys|connectors|vault_secrets)"?(?![\w])/gi;

const LAST_USED_ONLY = /\bupdate\s+"?api_keys"?(?:\s+as\s+\w+)?\s+set\s+last_used_at\s*=[^;]*/gi;

/** The answers of tablesWritten by statement text: the texts are the code's (parameters apart), a few hundred at most. */
const writtenByText = new Map<string, readonly WatchedTable[]>();
const NOTHING: readonly WatchedTable[] = Object.freeze([]);

/** The watched tables a statement writes (none for a read). Asked for every statement twice (here and in pg-driver.ts): remembered, reads too. */
export function tablesWritten(sqlText: string): readonly WatchedTable[] {
  const known = writtenByText.get(sqlText);
  if (known) return known;
  let answer = NOTHING;
  if (/update|insert|delete|merge|truncate/i.test(sqlText)) {
    const found = new Set<WatchedTable>();
    // The request log's "last used" update (api-keys.ts markUsed) changes nothing a cache holds — as migration
    // 0031's trigger ignores it — so it must not make every process forget its admission grants each flush.
    const text = sqlText.replace(LAST_USED_ONLY, "");
    for (const m of text.matchAll(WRITE)) found.add(m[1]!.toLowerCase() as WatchedTable);
    if (found.size > 0) answer = Object.freeze([...found]);
  }
  // Long texts (values written into them) are not kept: they would only fill the map.
  if (sqlText.length <= 4096) {
    if (writtenByText.size >= 1000) writtenByText.clear();
    writtenByText.set(sqlText, answer);
  }
  return answer;
}

class WatchedConnection implements DatabaseConnection {
  /** Tables written in the open transaction: announced again when it ends. */
  dirty = new Set<WatchedTable>();
  constructor(
    readonly inner: DatabaseConnection,
    private readonly feed: ChangeFeed,
  ) {}
  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const written = tablesWritten(query.sql);
    if (written.length === 0) return this.inner.executeQuery<R>(query);
    try {
      return await this.inner.executeQuery<R>(query);
    } finally {
      for (const table of written) {
        this.dirty.add(table);
        this.feed.publish({ table });
      }
    }
  }
  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
  ended(): void {
    for (const table of this.dirty) this.feed.publish({ table });
    this.dirty.clear();
  }
}

class WatchedDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly feed: ChangeFeed,
  ) {}
  init(): Promise<void> {
    return this.inner.init();
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    return new WatchedConnection(await this.inner.acquireConnection(), this.feed);
  }
  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.inner.beginTransaction((connection as WatchedConnection).inner, settings);
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.inner.commitTransaction((connection as WatchedConnection).inner);
    } finally {
      (connection as WatchedConnection).ended();
    }
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.inner.rollbackTransaction((connection as WatchedConnection).inner);
    } finally {
      (connection as WatchedConnection).ended();
    }
  }
  releaseConnection(connection: DatabaseConnection): Promise<void> {
    (connection as WatchedConnection).ended();
    return this.inner.releaseConnection((connection as WatchedConnection).inner);
  }
  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** The dialect whose statements announce writes of the watched tables on `feed`. */
export function watchWrites(dialect: Dialect, feed: ChangeFeed): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new WatchedDriver(dialect.createDriver(), feed),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
  };
}

/** "api_keys:<uuid>" → a change of that row; "api_keys" → of any; anything else → null. */
export function parseAnnouncement(payload: string): Change | null {
  const i = payload.indexOf(":");
  const table = i < 0 ? payload : payload.slice(0, i);
  if (!(WATCHED_TABLES as readonly string[]).includes(table)) return null;
  // A table's name alone (a bulk write, migration 0044): anything of it may have changed.
  return i < 0 ? { table: table as WatchedTable } : { table: table as WatchedTable, id: payload.slice(i + 1) };
}

/**
 * One PostgreSQL connection of this process LISTENing on patchbay_changes,
 * outside the pool (a pooled connection would be taken from the requests).
 * Lost: everything is forgotten (what was missed meanwhile is unknown) and it
 * connects again after a second. Returns the stop function.
 */
export async function listenForChanges(url: string, feed: ChangeFeed, log: (msg: string) => void = () => {}): Promise<() => Promise<void>> {
  const { default: pg } = await import("pg");
  let client: InstanceType<typeof pg.Client> | null = null;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const forgetAll = () => {
    for (const table of WATCHED_TABLES) feed.publish({ table });
  };
  const connect = async (): Promise<void> => {
    if (stopped) return;
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    client = c;
    let lost = false;
    const onLost = () => {
      if (lost) return;
      lost = true;
      forgetAll();
      c.end().catch(() => {});
      if (client === c) client = null;
      if (!stopped) {
        timer = setTimeout(() => void connect(), 1000);
        timer.unref();
      }
    };
    c.on("error", onLost);
    c.on("end", onLost);
    c.on("notification", (n) => {
      const change = parseAnnouncement(n.payload ?? "");
      if (change) feed.publish(change);
    });
    try {
      await c.connect();
      await c.query("listen patchbay_changes");
      // Whatever changed while not listening is unknown.
      forgetAll();
    } catch (err) {
      log(`listening for changes failed: ${err instanceof Error ? err.message : String(err)}`);
      onLost();
    }
  };
  await connect();
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    const c = client;
    client = null;
    if (c) {
      c.removeAllListeners("end");
      c.removeAllListeners("error");
      c.on("error", () => {});
      await c.end().catch(() => {});
    }
  };
}

const feeds = new WeakMap<object, ChangeFeed>();

export function registerChangeFeed(db: object, feed: ChangeFeed): void {
  feeds.set(db, feed);
}

/** The feed of a database opened by openDatabase; a feed that hears nothing for any other (then only the TTL bounds staleness). */
export function changeFeedOf(db: object): ChangeFeed {
  let feed = feeds.get(db);
  if (!feed) {
    feed = createChangeFeed();
    feeds.set(db, feed);
  }
  return feed;
}
