import type { CompiledQuery, Kysely } from "kysely";

const deferred = new WeakSet<CompiledQuery>();

/**
 * Runs a write whose result the caller does not read (an outbox event, an
 * audit row, a stored idempotency answer) in `trx`, possibly later: on
 * PostgreSQL, inside a transaction, the statement is held by the connection
 * and sent together with the transaction's next statement or with its COMMIT,
 * in one round trip (pg-driver.ts). It still runs before anything the
 * transaction does after it, and it commits or rolls back with it; an error it
 * raises surfaces from that next statement or from the commit, which then
 * fails (the transaction is rolled back). Elsewhere (outside a transaction, on
 * the embedded database) it runs at once.
 */
export async function executeDeferrable(trx: Kysely<any>, query: CompiledQuery): Promise<void> {
  await trx.executeQuery(deferrable(query));
}

/** Marks a statement deferrable (see executeDeferrable), for a caller that executes it on a connection itself. */
export function deferrable(query: CompiledQuery): CompiledQuery {
  deferred.add(query);
  return query;
}

/** Whether a statement may be held until the transaction's next statement or its commit. */
export function isDeferrable(query: CompiledQuery): boolean {
  return deferred.has(query);
}
