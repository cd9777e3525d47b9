import type { CompiledQuery } from "kysely";

const companions = new WeakMap<CompiledQuery, CompiledQuery>();

/**
 * `query` with the statement its transaction will very likely run next sent
 * in the same message, one round trip for both (PostgreSQL, inside a
 * transaction; pg-driver.ts). The caller gets `query`'s answer; the
 * companion's is kept by the connection and answers the transaction's next
 * statement if that is the very same statement (same text, same parameters),
 * and is dropped otherwise. The companion must be a read that is safe to have
 * run even when it is not used — a row lock the transaction would take next
 * anyway, say: it runs, and what it locks stays locked until the transaction
 * ends. Elsewhere (the embedded database, outside a transaction) the
 * companion is not sent.
 *
 * Used by the idempotency claim (the key is claimed as the request
 * transaction's first statement, and the handler's first statement — the
 * connector row's lock — rides with it).
 */
export function withLookahead(query: CompiledQuery, companion: CompiledQuery | null | undefined): CompiledQuery {
  if (!companion) return query;
  const own = { ...query };
  companions.set(own, companion);
  return own;
}

/** The companion statement sent with `query`, if it has one. */
export function lookaheadOf(query: CompiledQuery): CompiledQuery | undefined {
  return companions.get(query);
}

/** Whether two statements are the same: same text, same parameters (compared as the driver would send them). */
export function sameStatement(a: Pick<CompiledQuery, "sql" | "parameters">, b: Pick<CompiledQuery, "sql" | "parameters">): boolean {
  if (a.sql !== b.sql || a.parameters.length !== b.parameters.length) return false;
  for (let i = 0; i < a.parameters.length; i++) {
    const x = a.parameters[i];
    const y = b.parameters[i];
    if (x === y) continue;
    if (x instanceof Date && y instanceof Date && x.getTime() === y.getTime()) continue;
    return false;
  }
  return true;
}
