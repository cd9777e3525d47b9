import { CompiledQuery } from "kysely";

/** What rides with a statement: the text sent, the statement whose answer it is, and whether an empty answer counts. */
export interface Companion {
  send: CompiledQuery;
  answers: CompiledQuery;
  /** The answer serves only when it has rows (a lock taken with SKIP LOCKED: no row may mean "held by another"). */
  onlyIfRows: boolean;
}

const companions = new WeakMap<CompiledQuery, Companion>();

/**
 * `query` with the statement its transaction will very likely run next sent
 * in the same message, one round trip for both (PostgreSQL, inside a
 * transaction; pg-driver.ts). The caller gets `query`'s answer; the
 * companion's is kept by the connection and answers the transaction's next
 * statement if that is the very same statement (same text, same parameters),
 * and is dropped otherwise. The companion must be a read that is safe to have
 * run even when it is not used — a row lock the transaction would take next
 * anyway, say: it runs, and what it locks stays locked until the transaction
 * ends. A lock (`… for update`) rides as `… for update skip locked`, so that
 * it never makes `query` wait: a row another transaction holds comes back
 * absent, and then the next statement is sent after all and waits for it as
 * it would have (an idempotency claim that answers "in use" or a replay must
 * answer at once, not behind a writer's lock). Elsewhere (the embedded
 * database, outside a transaction) the companion is not sent.
 *
 * Used by the idempotency claim (the key is claimed as the request
 * transaction's first statement, and the handler's first statement — the
 * connector row's lock — rides with it).
 */
export function withLookahead(query: CompiledQuery, next: CompiledQuery | null | undefined): CompiledQuery {
  if (!next) return query;
  const own = { ...query };
  const locks = /\sfor update$/i.test(next.sql);
  companions.set(own, { send: locks ? CompiledQuery.raw(`${next.sql} skip locked`, [...next.parameters]) : next, answers: next, onlyIfRows: locks });
  return own;
}

/** The companion sent with `query`, if it has one. */
export function lookaheadOf(query: CompiledQuery): Companion | undefined {
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
