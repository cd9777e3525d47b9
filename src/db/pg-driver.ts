import { createRequire } from "node:module";
import type pg from "pg";
import { CompiledQuery, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, type DatabaseConnection, type Dialect, type Driver, type Kysely, type QueryResult, type TransactionSettings } from "kysely";
import { tablesWritten } from "./change-feed.ts";
import { isDeferrable } from "./deferred.ts";
import { lookaheadOf, sameStatement, type Companion } from "./lookahead.ts";
import { isDatabaseUnavailable } from "./unavailable.ts";

/**
 * Kysely over a node-postgres pool. Kysely's own PostgreSQL driver hands a
 * connection back to the pool as healthy whatever happened to it; this one
 * drops a connection that failed with an outage (its server terminated it,
 * the socket broke), so the next request never inherits a dead session.
 *
 * Round trips: a transaction's BEGIN is not sent on its own but in front of
 * the transaction's first statement, and statements marked deferrable
 * (deferred.ts: outbox events, audit rows, stored idempotency answers) are held
 * and sent in front of the next statement or of the COMMIT. Such a batch is one
 * simple-protocol query (several statements in one message; the parameters
 * inlined as quoted literals, which PostgreSQL types from their context exactly
 * as it types an untyped parameter). PostgreSQL runs the statements of one
 * message in order and stops at the first error; inside the transaction block
 * that error aborts the transaction, which the caller then rolls back.
 *
 * Change announcements (change-feed.ts): the pool's connections start by
 * setting patchbay.announce_after_commit (ANNOUNCE_AFTER_COMMIT), so the triggers
 * of the watched tables keep their notifications in the session (migration
 * 0044); a transaction that wrote one of those tables sends them right behind
 * its COMMIT, in the same message (`select patchbay_announce_changes()`, a
 * transaction of its own), and a write outside a transaction right after it.
 * Inside the writing transaction a NOTIFY would hold PostgreSQL's one notify
 * lock through the commit's WAL flush: one committing writer at a time.
 *
 * A statement with a lookahead companion (lookahead.ts) inside a transaction
 * goes out with the companion behind it in the same message; the companion's
 * answer is kept and answers the transaction's next statement if that is the
 * same statement, without a round trip.
 */
export class PgDialect implements Dialect {
  constructor(
    private readonly pool: pg.Pool,
    private readonly opts: { prepare?: boolean } = {},
  ) {}
  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PgDriver(this.pool, this.opts.prepare ?? true);
  }
  createIntrospector(db: Kysely<any>) {
    return new PostgresIntrospector(db);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
}

class PgDriver implements Driver {
  constructor(
    private readonly pool: pg.Pool,
    private readonly prepare: boolean,
  ) {}
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return new PgConnection(await this.pool.connect(), this.prepare);
  }
  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const level = settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : "";
    const access = settings.accessMode ? ` ${settings.accessMode}` : "";
    (connection as PgConnection).begin(`begin${level}${access}`);
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PgConnection).commit();
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PgConnection).rollback();
  }
  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    await (connection as PgConnection).release();
  }
  async destroy(): Promise<void> {
    await this.pool.end();
  }
}

const COUNTED_COMMANDS = new Set(["INSERT", "UPDATE", "DELETE", "MERGE"]);

/** COMMIT was answered ROLLBACK: nothing of the transaction was kept. */
export class TransactionRolledBackError extends Error {
  constructor() {
    super("the database rolled the transaction back at COMMIT: an earlier statement of it had failed");
    this.name = "TransactionRolledBackError";
  }
}

/**
 * Names of prepared statements, by statement text, shared by every connection
 * of the process (node-postgres remembers per connection which it has
 * prepared). Bounded: statements past the first MAX_NAMED distinct texts go
 * unnamed, so a query whose text varies (an IN list) cannot grow the
 * server's per-connection statement cache without end. PATCHBAY_PG_PREPARE=false
 * (a pooler that cannot carry prepared statements) names none (PgDialect's `prepare`).
 */
const MAX_NAMED = 500;

/** Names by statement text under one prefix, the first MAX_NAMED texts only; a forgotten text is never named again. */
class StatementNames {
  private readonly names = new Map<string, string | null>();
  private count = 0;
  constructor(private readonly prefix: string) {}

  /** The text's name, given now if it has none yet; undefined past the bound or once forgotten. */
  nameOf(text: string): string | undefined {
    const known = this.names.get(text);
    if (known !== undefined) return known ?? undefined;
    if (this.count >= MAX_NAMED) return undefined;
    const name = `${this.prefix}_${++this.count}`;
    this.names.set(text, name);
    return name;
  }

  /** The text's name if it has one, without giving one. */
  known(text: string): string | undefined {
    return this.names.get(text) ?? undefined;
  }

  forget(text: string): void {
    this.names.set(text, null);
  }

  /** [text, name] of every named text. */
  *entries(): IterableIterator<[string, string]> {
    for (const [text, name] of this.names) if (name) yield [text, name];
  }
}

const statementNames = new StatementNames("pb");

/**
 * Statements that go out inlined in a several-statement message (the held
 * writes, a BEGIN's first statement, a lookahead pair) are prepared too: the
 * message then runs `execute <name>(<literals>)` instead of the statement's
 * text, so PostgreSQL neither parses nor plans it again. A statement
 * node-postgres has prepared on the connection is executed by its name; one
 * it has not is prepared with SQL PREPARE under a name of this map's own
 * (pbx_*), once per connection, when the connection goes back to the pool
 * (outside any transaction, one round trip per new text). Bounded like the
 * protocol-level names; a text PREPARE refuses is never tried again.
 */
const inlinedNames = new StatementNames("pbx");
const preparedOn = new WeakMap<pg.PoolClient, Set<string>>();

/** PostgreSQL's refusal to run a prepared statement whose result columns changed under it. */
function isStalePlan(err: unknown): boolean {
  return (err as { code?: string }).code === "0A000" && /cached plan must not change result type/.test(String((err as Error).message));
}

/** The first statement of each of the pool's connections: its triggers announce after the commit (migration 0044). */
export const ANNOUNCE_AFTER_COMMIT = "set patchbay.announce_after_commit = on";

const ANNOUNCE = "select patchbay_announce_changes()";

/**
 * An error of the statement behind a COMMIT that already succeeded: the
 * database is older than migration 0044 (while the migrations run, say) and
 * has no patchbay_announce_changes(); its triggers announced at commit.
 */
function isMissingAnnounce(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === "42883" && typeof e.message === "string" && e.message.includes("patchbay_announce_changes");
}

class PgConnection implements DatabaseConnection {
  private lost: Error | null = null;
  /** Inside a transaction (begun, not yet committed or rolled back). */
  private inTransaction = false;
  /** The BEGIN not sent yet: it goes out with the transaction's first statement. */
  private unsentBegin: string | null = null;
  /** Deferrable statements not sent yet, in order. */
  private held: CompiledQuery[] = [];
  /** The open transaction wrote a watched table: its announcements go out behind its COMMIT. */
  private announces = false;
  /** A lookahead companion's answer, kept for the transaction's next statement (lookahead.ts). */
  private kept: { query: CompiledQuery; result: QueryResult<unknown>; onlyIfRows: boolean } | null = null;
  /** Texts sent inlined that this connection prepares when it is released (inlinedNames). */
  private toPrepare = new Set<string>();

  constructor(
    private readonly client: pg.PoolClient,
    private readonly prepare: boolean,
  ) {}

  begin(statement: string): void {
    this.inTransaction = true;
    this.unsentBegin = statement;
    this.held = [];
    this.announces = false;
    this.kept = null;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const kept = this.kept;
    this.kept = null;
    // The statement a companion anticipated, with nothing held in between: its answer is already here.
    if (kept && this.held.length === 0 && sameStatement(kept.query, query) && (!kept.onlyIfRows || kept.result.rows.length > 0)) return kept.result as QueryResult<R>;
    const writesWatched = tablesWritten(query.sql).length > 0;
    if (this.inTransaction) {
      if (writesWatched) this.announces = true;
      if (isDeferrable(query)) {
        this.held.push(query);
        return { rows: [] };
      }
      const companion = lookaheadOf(query);
      if (companion) return this.sendWithCompanion<R>(query, companion);
    }
    const prefix = this.takeUnsent();
    if (prefix.length > 0) return this.send<R>([...prefix, this.inlined(query)].join("\n;\n"));
    const result = await this.send<R>(query.sql, query.parameters);
    // A write outside a transaction committed on its own: its announcements follow it.
    if (writesWatched && !this.inTransaction) await this.send(ANNOUNCE).catch(() => {});
    return result;
  }

  /** `query` and its companion in one message (with whatever is unsent in front); the companion's answer is kept. */
  private async sendWithCompanion<R>(query: CompiledQuery, companion: Companion): Promise<QueryResult<R>> {
    if (tablesWritten(companion.send.sql).length > 0) this.announces = true;
    const text = [...this.takeUnsent(), this.inlined(query), this.inlined(companion.send)].join("\n;\n");
    const answers = await this.sendAll(text, []);
    this.kept = { query: companion.answers, result: queryResult(answers.at(-1)!), onlyIfRows: companion.onlyIfRows };
    return queryResult<R>(answers.at(-2)!);
  }

  async commit(): Promise<void> {
    this.kept = null;
    const begun = this.unsentBegin === null;
    const prefix = this.takeUnsent();
    // Nothing was ever sent or held: there is no transaction on the server to end.
    if (!begun && prefix.length === 1) {
      this.inTransaction = false;
      return;
    }
    const announce = this.announces;
    this.announces = false;
    let tag: string;
    try {
      const answers = await this.sendAll([...prefix, "commit", ...(announce ? [ANNOUNCE] : [])].join("\n;\n"), []);
      tag = answers[answers.length - (announce ? 2 : 1)]!.command;
    } catch (err) {
      // The COMMIT went through; only the statement behind it failed (see isMissingAnnounce).
      if (!(announce && isMissingAnnounce(err))) throw err;
      tag = "COMMIT";
    } finally {
      this.inTransaction = false;
    }
    // PostgreSQL answers COMMIT of a transaction an earlier error aborted with ROLLBACK, not an error: a caller
    // that caught that error and went on must not take its write for committed.
    if (tag === "ROLLBACK") throw new TransactionRolledBackError();
  }

  async rollback(): Promise<void> {
    this.kept = null;
    const begun = this.unsentBegin === null;
    this.unsentBegin = null;
    this.held = [];
    this.announces = false;
    if (begun) await this.send("rollback");
    this.inTransaction = false;
  }

  /**
   * A statement as it goes in a several-statement message: `execute name(…)`
   * when it is prepared on this connection (inlinedNames), else its text with
   * the parameters inlined (and it is prepared when the connection is released).
   */
  private inlined(q: CompiledQuery): string {
    if (q.parameters.length === 0 || !this.prepare) return inlineParameters(q.sql, q.parameters);
    // node-postgres's own record of what it has prepared on this connection (its Connection's parsedStatements).
    const protocolName = statementNames.known(q.sql);
    const parsed = (this.client as unknown as { connection?: { parsedStatements?: Record<string, string> } }).connection?.parsedStatements;
    if (protocolName && parsed?.[protocolName] === q.sql) return executeText(protocolName, q.parameters);
    const name = inlinedNames.nameOf(q.sql);
    if (name && preparedOn.get(this.client)?.has(name)) return executeText(name, q.parameters);
    if (name) this.toPrepare.add(q.sql);
    return inlineParameters(q.sql, q.parameters);
  }

  /** The unsent BEGIN and the held statements, as statements to send now in front of another. */
  private takeUnsent(): string[] {
    if (this.unsentBegin === null && this.held.length === 0) return [];
    const out = this.unsentBegin === null ? [] : [this.unsentBegin];
    for (const q of this.held) out.push(this.inlined(q));
    this.unsentBegin = null;
    this.held = [];
    return out;
  }

  private async send<R>(text: string, parameters: readonly unknown[] = []): Promise<QueryResult<R>> {
    // A message of several statements answers one result each: the last is the caller's statement.
    return queryResult<R>((await this.sendAll(text, parameters)).at(-1)!);
  }

  /**
   * One message, answered by one result per statement. A statement with
   * parameters goes as a named prepared statement (statementName):
   * PostgreSQL parses and plans its text once per connection instead of on
   * every execution (a short read then costs the database about a quarter of the CPU).
   * The rest go unnamed.
   */
  private async sendAll(text: string, parameters: readonly unknown[]): Promise<pg.QueryResult[]> {
    try {
      const name = parameters.length === 0 || !this.prepare ? undefined : statementNames.nameOf(text);
      let answer: pg.QueryResult | pg.QueryResult[];
      try {
        answer = await this.client.query(name ? { name, text, values: [...parameters] } : { text, values: parameters.length === 0 ? undefined : [...parameters] });
      } catch (err) {
        // The statement's table changed shape since this connection prepared it (a migration by a newer
        // process): that name is not used again anywhere, and outside a transaction the statement is retried once.
        if (!name || !isStalePlan(err)) throw err;
        statementNames.forget(text);
        if (this.inTransaction) throw err;
        answer = await this.client.query(text, [...parameters]);
      }
      return Array.isArray(answer) ? answer : [answer];
    } catch (err) {
      if (isDatabaseUnavailable(err)) this.lost = err as Error;
      // A statement this connection prepared no longer fits its table (a newer process migrated): the connection,
      // with all it prepared, is dropped when released, and the next one prepares afresh.
      else if (isStalePlan(err)) this.lost = err as Error;
      throw err;
    }
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error("streaming queries are not used");
  }
  /** Back to the pool, or (after an outage error) out of it: pg-pool destroys a client released with an error. */
  async release(): Promise<void> {
    const wasInTransaction = this.inTransaction;
    this.kept = null;
    this.inTransaction = false;
    this.unsentBegin = null;
    this.held = [];
    this.announces = false;
    if (this.toPrepare.size > 0 && !this.lost && !wasInTransaction) await this.prepareInlined();
    this.client.release(this.lost ?? undefined);
  }

  /**
   * PREPAREs the texts this connection sent inlined (inlinedNames), outside any
   * transaction, each in a message of its own so that one PREPARE refused (it
   * is then never tried again) cannot leave the others' state unknown. Once
   * per text and connection.
   */
  private async prepareInlined(): Promise<void> {
    const done = preparedOn.get(this.client) ?? new Set<string>();
    preparedOn.set(this.client, done);
    for (const text of this.toPrepare) {
      const name = inlinedNames.nameOf(text);
      if (!name || done.has(name)) continue;
      try {
        await this.client.query(`prepare ${name} as ${text}`);
        done.add(name);
      } catch (err) {
        if (isDatabaseUnavailable(err)) {
          this.lost = err as Error;
          break;
        }
        inlinedNames.forget(text);
      }
    }
    this.toPrepare.clear();
  }
}

/**
 * A message as the statements' own texts: each `execute pb…(…)` replaced by
 * the text it executes (its parameters left as $n). For tests and debugging,
 * which read what was sent.
 */
export function expandExecutes(message: string): string {
  const texts = new Map<string, string>();
  for (const names of [statementNames, inlinedNames]) for (const [text, name] of names.entries()) texts.set(name, text);
  let out = "";
  let i = 0;
  const re = /execute (pbx?_\d+)\(/g;
  for (let m = re.exec(message); m; m = re.exec(message)) {
    const text = texts.get(m[1]!);
    if (!text) continue;
    // The closing parenthesis of the argument list, outside quoted literals.
    let j = m.index + m[0].length;
    let depth = 1;
    while (j < message.length && depth > 0) {
      const c = message[j]!;
      if (c === "'") {
        const escapes = message[j - 1] === "E";
        j++;
        while (j < message.length) {
          if (escapes && message[j] === "\\") j += 2;
          else if (message[j] === "'") {
            if (message[j + 1] !== "'") break;
            j += 2;
          } else j++;
        }
      } else if (c === "(") depth++;
      else if (c === ")") depth--;
      j++;
    }
    out += message.slice(i, m.index) + text;
    i = re.lastIndex = j;
  }
  return out + message.slice(i);
}

/** `execute name(…)` of a prepared statement, its parameters as literals in order. */
function executeText(name: string, parameters: readonly unknown[]): string {
  let out = `execute ${name}(`;
  for (let i = 0; i < parameters.length; i++) out += `${i === 0 ? "" : ", "}${literalOf(parameters[i])}`;
  return `${out})`;
}

function queryResult<R>(result: pg.QueryResult): QueryResult<R> {
  return {
    rows: (result.rows ?? []) as R[],
    numAffectedRows: COUNTED_COMMANDS.has(result.command) && result.rowCount !== null ? BigInt(result.rowCount) : undefined,
  };
}

/** node-postgres's own conversion of a parameter to its text form (Date, array, Buffer, object → JSON), loaded with pg. */
let prepareValue: ((value: unknown) => string | Buffer | null) | null = null;

/** A parameter as a quoted literal: the text node-postgres would send for it, which PostgreSQL types from its context. */
export function literalOf(value: unknown): string {
  prepareValue ??= (createRequire(import.meta.url)("pg/lib/utils.js") as { prepareValue: typeof prepareValue }).prepareValue;
  const text = prepareValue!(value);
  if (text === null) return "null";
  if (Buffer.isBuffer(text)) return ` E'\\\\x${text.toString("hex")}'`;
  if (text.includes("\0")) {
    // What the server answers for a NUL in a parameter; inlined, it would cut the message short.
    throw Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: "22021", severity: "ERROR" });
  }
  const quoted = `'${text.replace(/'/g, "''")}'`;
  return text.includes("\\") ? ` E${quoted.replace(/\\/g, "\\\\")}` : quoted;
}

const isIdentifierChar = (c: number) =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36 || c >= 128;

/**
 * The statement with each `$n` placeholder replaced by the literal of its
 * parameter. Placeholders inside string constants, quoted identifiers,
 * dollar-quoted bodies and comments are left alone.
 */
export function inlineParameters(text: string, parameters: readonly unknown[]): string {
  if (parameters.length === 0) return text;
  let out = "";
  let copied = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 39) {
      // 'string', with backslash escapes after E
      const escapes = (text[i - 1] === "E" || text[i - 1] === "e") && !isIdentifierChar(text.charCodeAt(i - 2));
      i++;
      while (i < n) {
        if (escapes && text[i] === "\\") i += 2;
        else if (text[i] === "'") {
          if (text[i + 1] !== "'") break;
          i += 2;
        } else i++;
      }
      i++;
    } else if (c === 34) {
      // "identifier"
      i++;
      while (i < n && !(text[i] === '"' && text[i + 1] !== '"')) i += text[i] === '"' ? 2 : 1;
      i++;
    } else if (c === 45 && text[i + 1] === "-") {
      const end = text.indexOf("\n", i);
      i = end < 0 ? n : end + 1;
    } else if (c === 47 && text[i + 1] === "*") {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (text[i] === "/" && text[i + 1] === "*") (depth++, (i += 2));
        else if (text[i] === "*" && text[i + 1] === "/") (depth--, (i += 2));
        else i++;
      }
    } else if (c === 36 && !isIdentifierChar(text.charCodeAt(i - 1))) {
      let j = i + 1;
      while (j < n && text.charCodeAt(j) >= 48 && text.charCodeAt(j) <= 57) j++;
      if (j > i + 1) {
        const index = Number(text.slice(i + 1, j)) - 1;
        if (index < 0 || index >= parameters.length) throw new Error(`statement refers to $${index + 1} of ${parameters.length} parameters`);
        out += text.slice(copied, i) + literalOf(parameters[index]);
        copied = i = j;
        continue;
      }
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(text.slice(i, i + 64));
      if (tag) {
        const close = text.indexOf(tag[0], i + tag[0].length);
        i = close < 0 ? n : close + tag[0].length;
      } else i++;
    } else i++;
  }
  return out + text.slice(copied);
}
