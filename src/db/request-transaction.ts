import { AsyncLocalStorage } from "node:async_hooks";
import { CompiledQuery, type DatabaseConnection, type Dialect, type Driver, type Kysely, type QueryResult, type TransactionSettings } from "kysely";

/**
 * One transaction that spans a whole request (an idempotent write: the work
 * and its stored answer commit together, SPEC §3). While a request runs inside
 * it (`run`), every statement made through the Kysely instance joins it —
 * services need not know: their own `db.transaction()` joins it too (see
 * beginNested).
 */
export class RequestTransaction {
  private connection: DatabaseConnection | null = null;
  private opening: Promise<DatabaseConnection> | null = null;
  private ended = false;
  private depth = 0;
  /** Counted in `running` from `run` until the transaction ends. */
  private counted = false;
  /** Called when a service's own transaction inside this one commits (the fault switch uses it). */
  onNestedCommit: (() => void) | null = null;
  /** Called after a service's rollback has rolled the whole request back and begun anew. */
  onRestart: (() => Promise<void>) | null = null;
  /** Called once when the transaction has ended, committed or not. */
  onEnd: (() => void) | null = null;

  constructor(private readonly driver: AmbientDriver) {}

  /** Until it commits or rolls back. Work the request started that outlives it (a timer, a fire-and-forget write) then runs on its own. */
  get active(): boolean {
    return !this.ended;
  }

  /** Runs `fn` (and everything it starts) inside this transaction. */
  run<T>(fn: () => T): T {
    if (!this.ended && !this.counted) {
      this.counted = true;
      running++;
    }
    return ambient.run(this, fn);
  }

  /** Takes a connection and begins; later callers share the first one's. */
  open(): Promise<DatabaseConnection> {
    if (this.ended) return Promise.reject(new Error("the request's transaction has already ended"));
    if (this.connection) return Promise.resolve(this.connection);
    this.opening ??= (async () => {
      const connection = await this.driver.acquireOwnConnection();
      try {
        await this.driver.inner.beginTransaction(connection, {});
      } catch (err) {
        await this.driver.inner.releaseConnection(connection);
        throw err;
      }
      this.connection = connection;
      return connection;
    })();
    return this.opening;
  }

  async execute<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const connection = await this.open();
    return connection.executeQuery<R>(query);
  }

  /** Commits (when anything was begun) and gives the connection back. */
  async commit(): Promise<void> {
    await this.end(true);
  }

  /** Rolls back (when anything was begun) and gives the connection back. Never throws: a lost connection has rolled back already. */
  async rollback(): Promise<void> {
    try {
      await this.end(false);
    } catch {
      // The server rolls back a transaction whose connection broke.
    }
  }

  private async end(commit: boolean): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    try {
      await this.finish(commit);
    } finally {
      if (this.counted) {
        this.counted = false;
        if (--running === 0 && HOOKED) setImmediate(trackingOffWhenIdle);
      }
      this.onEnd?.();
    }
  }

  private async finish(commit: boolean): Promise<void> {
    if (!this.opening) return;
    const connection = await this.opening.catch(() => null);
    if (!connection) return;
    try {
      if (commit) await this.driver.inner.commitTransaction(connection);
      else await this.driver.inner.rollbackTransaction(connection);
    } catch (err) {
      if (commit) await this.driver.inner.rollbackTransaction(connection).catch(() => {});
      throw err;
    } finally {
      this.connection = null;
      await this.driver.inner.releaseConnection(connection);
    }
  }

  /**
   * A service's `db.transaction()` inside the request joins it: no savepoint
   * (one round trip each), since the request is one unit — what its services
   * did commits with its answer, or none of it does. A service that rolls back
   * rolls the whole request back to its start (`onRestart` then re-takes what
   * the request held), and the request goes on to store its error answer.
   */
  beginNested(): Promise<void> {
    this.depth++;
    return Promise.resolve();
  }
  commitNested(): Promise<void> {
    this.depth--;
    this.onNestedCommit?.();
    return Promise.resolve();
  }
  async rollbackNested(): Promise<void> {
    this.depth--;
    if (this.depth > 0 || !this.opening) return;
    const connection = await this.opening;
    await this.driver.inner.rollbackTransaction(connection);
    await this.driver.inner.beginTransaction(connection, {});
    await this.onRestart?.();
  }
}

const ambient = new AsyncLocalStorage<RequestTransaction>();

/**
 * Request transactions that are ambient now (between `run` and their end).
 * On Node 20 an AsyncLocalStorage in use turns on async context tracking for
 * the whole process: a hook on every promise created and every continuation
 * run, in every request. Measured on a proxied GET: 14% more server CPU once
 * one keyed write had run (bench/ab-proxy.ts, AB_KEYED_WRITE). So the storage
 * is switched off again whenever no keyed write is running: only while one is
 * do the others pay. `run` switches it on again (AsyncLocalStorage.run does).
 */
let running = 0;

/**
 * Whether this Node's AsyncLocalStorage is the hook-based one (Node 20), whose
 * `enabled` switch turns the hooks off. Where it is built on async context
 * frames instead, nothing is hooked, and nothing is switched off.
 */
const switchable = ambient as unknown as { enabled?: boolean };
const HOOKED = typeof switchable.enabled === "boolean";

/**
 * From a macrotask, never from inside a promise continuation: switching the
 * hooks off between a continuation's before and after hooks is what Node
 * cannot balance. While it is off every getStore is undefined, which is right:
 * no request transaction is active then.
 */
function trackingOffWhenIdle(): void {
  if (running === 0) ambient.disable();
}

/** Whether the async context tracking is on (tests: it is off again once no keyed write runs); null where nothing is hooked. */
export function contextTrackingOn(): boolean | null {
  return HOOKED ? switchable.enabled! : null;
}

/** The connection a statement gets while a request transaction is ambient: that transaction's. */
class JoinedConnection implements DatabaseConnection {
  constructor(readonly tx: RequestTransaction) {}
  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return this.tx.execute<R>(query);
  }
  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error("streaming is not supported inside a request transaction");
  }
}

/** Wraps a driver so that statements made inside `RequestTransaction.run` join that transaction. */
class AmbientDriver implements Driver {
  private initialized: Promise<void> | null = null;
  constructor(readonly inner: Driver) {}
  /** Once, whoever comes first: Kysely before its first statement, or a request transaction before its own. */
  init(): Promise<void> {
    return (this.initialized ??= this.inner.init());
  }
  /** A connection of the wrapped driver itself, for a request transaction. */
  async acquireOwnConnection(): Promise<DatabaseConnection> {
    await this.init();
    return this.inner.acquireConnection();
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    const tx = ambient.getStore();
    return tx?.active ? new JoinedConnection(tx) : this.inner.acquireConnection();
  }
  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return connection instanceof JoinedConnection ? connection.tx.beginNested() : this.inner.beginTransaction(connection, settings);
  }
  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return connection instanceof JoinedConnection ? connection.tx.commitNested() : this.inner.commitTransaction(connection);
  }
  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return connection instanceof JoinedConnection ? connection.tx.rollbackNested() : this.inner.rollbackTransaction(connection);
  }
  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    if (!(connection instanceof JoinedConnection)) await this.inner.releaseConnection(connection);
  }
  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

const drivers = new WeakMap<object, { driver: AmbientDriver; sessions: "one" | "many" }>();

/** The dialect with request transactions: pass the result to `new Kysely`, then `registerRequestTransactions`. */
export function withRequestTransactions(dialect: Dialect): { dialect: Dialect; driver: () => AmbientDriver } {
  let driver: AmbientDriver | null = null;
  return {
    dialect: {
      createAdapter: () => dialect.createAdapter(),
      createDriver: () => (driver ??= new AmbientDriver(dialect.createDriver())),
      createIntrospector: (db) => dialect.createIntrospector(db),
      createQueryCompiler: () => dialect.createQueryCompiler(),
    },
    driver: () => {
      if (!driver) throw new Error("the Kysely instance has not created its driver");
      return driver;
    },
  };
}

/**
 * `sessions`: "one" for the embedded database (one session, one process: the
 * data dir is locked), "many" for PostgreSQL (a pool, other processes).
 */
export function registerRequestTransactions(db: Kysely<any>, driver: AmbientDriver, sessions: "one" | "many"): void {
  drivers.set(db, { driver, sessions });
}

function registered(db: Kysely<any>) {
  const entry = drivers.get(db);
  if (!entry) throw new Error("this Kysely instance was not opened by openDatabase (no request transactions)");
  return entry;
}

/** "one": the embedded database, a single session in a single process; "many": PostgreSQL. */
export function sessionsOf(db: Kysely<any>): "one" | "many" {
  return registered(db).sessions;
}

/** A new request transaction on this database (not begun: it begins with its first statement). */
export function requestTransaction(db: Kysely<any>): RequestTransaction {
  return new RequestTransaction(registered(db).driver);
}

/** Whether the caller runs inside a request transaction. */
export function inRequestTransaction(): boolean {
  return ambient.getStore() !== undefined;
}

/** Runs `fn` with no request transaction ambient: timers and promises it starts do not inherit one that will end. */
export function outsideRequestTransaction<T>(fn: () => T): T {
  return ambient.exit(fn);
}
