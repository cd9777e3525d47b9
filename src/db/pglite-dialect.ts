import { parse, protocol, type PGlite } from "@electric-sql/pglite";
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

type RowDescription = InstanceType<typeof protocol.messages.RowDescriptionMessage>;

/** A statement PGlite holds parsed and planned under a name, with what its first Describe told. */
interface Prepared {
  readonly name: string;
  /** The parameters' types, by which each value is serialized as PGlite's query() would. */
  readonly paramOids: readonly number[];
  /** Its RowDescription (null when it answers no rows): sent back once, kept for every execution. */
  readonly rowDescription: RowDescription | null;
  /** Executions since it was prepared, and when (see REPLAN_AFTER). */
  uses: number;
  readonly preparedAt: number;
}

/** Statements kept prepared at once; past it the least recently used is closed. Kysely's texts repeat (a multi-row insert's vary by row count). */
const MAX_PREPARED = 200;
/**
 * A statement is prepared again after this many executions, or this long. After five executions PostgreSQL may
 * keep one generic plan for a statement, costed on the tables as they were then, and it never looks again: a plan
 * made while a table was nearly empty stays as the table grows. In one bench run, after the fresh-key PATCHes had
 * grown the tables, the replayed PATCH ran at a third of its speed, and at full speed once its statements were
 * prepared again. The price is one Parse and five planned executions per 1,000, or per minute.
 */
const REPLAN_AFTER = 1000;
const REPLAN_AFTER_MS = 60_000;
/** A parameterless statement that may change the schema (a migration's script), and with it a prepared statement's result type. */
const SCHEMA_CHANGE = /\b(create|alter|drop|truncate|discard|deallocate)\b/i;
/** A prepared statement that can no longer run as prepared (its result type changed; it is gone). */
const STALE_PREPARED = new Set(["0A000", "26000"]);

class PGliteConnection implements DatabaseConnection {
  release: (() => void) | undefined;
  /** By SQL text, least recently used first (a Map keeps insertion order; a hit is moved to the end). */
  private readonly prepared = new Map<string, Prepared>();
  /** Names dropped from the cache, closed in PGlite with the next Parse. */
  private readonly toClose: string[] = [];
  private nextName = 0;
  constructor(private readonly pglite: PGlite) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    await letTheEventLoopTurn();
    let result: { rows: unknown[]; affectedRows?: number };
    try {
      // Parameterless statements go through exec, which accepts a multi-statement script (migrations).
      if (query.parameters.length === 0) {
        if (this.prepared.size > 0 && SCHEMA_CHANGE.test(query.sql)) this.forgetPrepared();
        result = (await this.pglite.exec(query.sql)).at(-1) ?? { rows: [], affectedRows: 0 };
      } else {
        result = await this.runPrepared(query.sql, query.parameters);
      }
    } catch (err) {
      // A statement PostgreSQL refused carries its SQLSTATE; a closed or crashed engine does not.
      const code = (err as { code?: unknown }).code;
      if (typeof code === "string" && STALE_PREPARED.has(code)) this.dropPrepared(query.sql);
      if (typeof code !== "string" && (this.pglite.closed || err instanceof WebAssembly.RuntimeError)) throw new EmbeddedDatabaseFailure(err);
      throw err;
    }
    return {
      rows: result.rows as R[],
      numAffectedRows: result.affectedRows === undefined ? undefined : BigInt(result.affectedRows),
    };
  }

  /**
   * A statement with parameters, as a named prepared statement: parsed, described and planned the first time its
   * text is seen, then each execution is one message into PGlite (Bind, Execute, Sync) instead of the six that
   * PGlite's query() sends (Parse, Describe, Bind, Describe, Execute, Sync, each a pass through the engine and its
   * answer's parser). The values are serialized and the rows parsed by PGlite's own functions, as query() does;
   * the same as PATCHBAY_PG_PREPARE does on PostgreSQL.
   */
  private async runPrepared(sql: string, parameters: readonly unknown[]): Promise<{ rows: unknown[]; affectedRows?: number }> {
    // PGlite's own lock, as query() takes it: no other statement's answer can be read as this one's.
    return this.pglite._runExclusiveQuery(() => this.runPreparedNow(sql, parameters));
  }

  private async runPreparedNow(sql: string, parameters: readonly unknown[]): Promise<{ rows: unknown[]; affectedRows?: number }> {
    let statement = this.prepared.get(sql);
    if (statement && (++statement.uses > REPLAN_AFTER || performance.now() - statement.preparedAt > REPLAN_AFTER_MS)) {
      this.dropPrepared(sql);
      statement = undefined;
    }
    if (statement) {
      // The most recently used last: the one closed when the cache is full is the least recently used.
      this.prepared.delete(sql);
      this.prepared.set(sql, statement);
    } else {
      statement = await this.prepare(sql);
    }
    const serializers = this.pglite.serializers;
    const values = parameters.map((value, i) => {
      if (value === null || value === undefined) return null;
      const serialize = serializers[statement.paramOids[i]!];
      return serialize ? serialize(value) : String(value);
    });
    const { messages } = await this.pglite.execProtocol(Buffer.concat([protocol.serialize.bind({ statement: statement.name, values }), protocol.serialize.execute({}), protocol.serialize.sync()]), {
      // PGlite's filesystems here (a node data dir, memory) write through: their sync is a no-op.
      syncToFs: false,
    });
    const answered = statement.rowDescription ? [statement.rowDescription, ...messages] : messages;
    return parse.parseResults(answered, this.pglite.parsers, { rowMode: "object" })[0]!;
  }

  private async prepare(sql: string): Promise<Prepared> {
    const name = `patchbay_${this.nextName++}`;
    if (this.prepared.size >= MAX_PREPARED) this.dropPrepared(this.prepared.keys().next().value as string);
    const closing = this.toClose.splice(0).map((stale) => protocol.serialize.close({ type: "S", name: stale }));
    const { messages } = await this.pglite.execProtocol(Buffer.concat([...closing, protocol.serialize.parse({ name, text: sql }), protocol.serialize.describe({ type: "S", name }), protocol.serialize.sync()]), { syncToFs: false });
    let paramOids: readonly number[] = [];
    let rowDescription: RowDescription | null = null;
    for (const m of messages) {
      if (m instanceof protocol.messages.ParameterDescriptionMessage) paramOids = m.dataTypeIDs;
      else if (m instanceof protocol.messages.RowDescriptionMessage) rowDescription = m;
    }
    const statement = { name, paramOids, rowDescription, uses: 1, preparedAt: performance.now() };
    this.prepared.set(sql, statement);
    return statement;
  }

  /** Out of the cache; closed in PGlite with the next statement prepared. */
  private dropPrepared(sql: string): void {
    const entry = this.prepared.get(sql);
    if (!entry) return;
    this.prepared.delete(sql);
    this.toClose.push(entry.name);
  }

  /**
   * Before a statement that may change the schema: none of the prepared ones is used again (each is prepared anew
   * when next needed), and they are closed in PGlite with the next Parse, in PGlite's lock, after anything already
   * sent.
   */
  private forgetPrepared(): void {
    for (const statement of this.prepared.values()) this.toClose.push(statement.name);
    this.prepared.clear();
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error("streaming is not supported on the embedded database");
  }
}
