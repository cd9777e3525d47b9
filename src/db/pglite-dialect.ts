import type { PGlite } from "@electric-sql/pglite";
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from "kysely";
import { EmbeddedDatabaseFailure } from "./unavailable.ts";

/**
 * Kysely over the embedded PGlite. PGlite is one session, so connections are
 * handed out one at a time: a transaction owns the session until it ends, and
 * no other request's statement can slip into it.
 */
export class PGliteDialect implements Dialect {
  constructor(private readonly pglite: PGlite) {}
  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.pglite);
  }
  createIntrospector(db: Kysely<any>) {
    return new PostgresIntrospector(db);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
}

class PGliteDriver implements Driver {
  private queue: Promise<void> = Promise.resolve();
  private readonly connection: PGliteConnection;

  constructor(pglite: PGlite) {
    this.connection = new PGliteConnection(pglite);
  }
  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const previous = this.queue;
    this.queue = previous.then(() => released);
    await previous;
    this.connection.release = release;
    return this.connection;
  }
  async beginTransaction(conn: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const level = settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : "";
    await conn.executeQuery(CompiledQuery.raw(`begin${level}`));
  }
  async commitTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw("commit"));
  }
  async rollbackTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw("rollback"));
  }
  async releaseConnection(): Promise<void> {
    this.connection.release?.();
  }
  async destroy(): Promise<void> {}
}

/**
 * PGlite runs each statement synchronously, and the next statement of a request (or of the next request in
 * line) follows in a microtask: under load the event loop could go seconds without turning, so no timer
 * fired (the admission's wait bound among them) and no socket was read. Once a stretch of statements has held
 * it for STRETCH_MS, the next waits one turn of the loop (setImmediate) first.
 */
const STRETCH_MS = 5;
let stretchStart = performance.now();
let turning: Promise<void> | null = null;

function letTheEventLoopTurn(): Promise<void> | void {
  if (performance.now() - stretchStart < STRETCH_MS) return;
  turning ??= new Promise<void>((resolve) =>
    setImmediate(() => {
      turning = null;
      stretchStart = performance.now();
      resolve();
    }),
  );
  return turning;
}

class PGliteConnection implements DatabaseConnection {
  release: (() => void) | undefined;
  constructor(private readonly pglite: PGlite) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    await letTheEventLoopTurn();
    let result: { rows: unknown[]; affectedRows?: number };
    try {
      // Parameterless statements go through exec, which accepts a multi-statement script (migrations).
      result =
        query.parameters.length === 0
          ? ((await this.pglite.exec(query.sql)).at(-1) ?? { rows: [], affectedRows: 0 })
          : await this.pglite.query<R>(query.sql, query.parameters as unknown[], { rowMode: "object" });
    } catch (err) {
      // A statement PostgreSQL refused carries its SQLSTATE; a closed or crashed engine does not.
      const sqlState = typeof (err as { code?: unknown }).code === "string";
      if (!sqlState && (this.pglite.closed || err instanceof WebAssembly.RuntimeError)) throw new EmbeddedDatabaseFailure(err);
      throw err;
    }
    return {
      rows: result.rows as R[],
      numAffectedRows: result.affectedRows === undefined ? undefined : BigInt(result.affectedRows),
    };
  }
  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error("streaming is not supported on the embedded database");
  }
}
