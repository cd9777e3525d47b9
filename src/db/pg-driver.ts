import type pg from "pg";
import { CompiledQuery, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, type DatabaseConnection, type Dialect, type Driver, type Kysely, type QueryResult, type TransactionSettings } from "kysely";
import { isDatabaseUnavailable } from "./unavailable.ts";

/**
 * Kysely over a node-postgres pool. Kysely's own PostgreSQL driver hands a
 * connection back to the pool as healthy whatever happened to it; this one
 * drops a connection that failed with an outage (its server terminated it,
 * the socket broke), so the next request never inherits a dead session.
 */
export class PgDialect implements Dialect {
  constructor(private readonly pool: pg.Pool) {}
  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PgDriver(this.pool);
  }
  createIntrospector(db: Kysely<any>) {
    return new PostgresIntrospector(db);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
}

class PgDriver implements Driver {
  constructor(private readonly pool: pg.Pool) {}
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return new PgConnection(await this.pool.connect());
  }
  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const level = settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : "";
    const access = settings.accessMode ? ` ${settings.accessMode}` : "";
    await connection.executeQuery(CompiledQuery.raw(`begin${level}${access}`));
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("commit"));
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("rollback"));
  }
  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    (connection as PgConnection).release();
  }
  async destroy(): Promise<void> {
    await this.pool.end();
  }
}

const COUNTED_COMMANDS = new Set(["INSERT", "UPDATE", "DELETE", "MERGE"]);

class PgConnection implements DatabaseConnection {
  private lost: Error | null = null;
  constructor(private readonly client: pg.PoolClient) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    try {
      const result = await this.client.query(query.sql, [...query.parameters]);
      return {
        rows: (result.rows ?? []) as R[],
        numAffectedRows: COUNTED_COMMANDS.has(result.command) && result.rowCount !== null ? BigInt(result.rowCount) : undefined,
      };
    } catch (err) {
      if (isDatabaseUnavailable(err)) this.lost = err as Error;
      throw err;
    }
  }
  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error("streaming queries are not used");
  }
  /** Back to the pool, or (after an outage error) out of it: pg-pool destroys a client released with an error. */
  release(): void {
    this.client.release(this.lost ?? undefined);
  }
}
