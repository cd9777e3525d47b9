import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import pg from "pg";
import { executeDeferrable } from "../src/db/deferred.ts";
import type { OpenDatabase } from "../src/db/index.ts";
import type { TestDatabase } from "./helpers/databases.ts";
import { expandExecutes, inlineParameters } from "../src/db/pg-driver.ts";
import { createTestDatabase, PG_ADMIN_URL } from "./helpers/databases.ts";

// The PostgreSQL driver's batching (src/db/pg-driver.ts): a transaction's BEGIN
// and its deferrable statements travel with its next statement or its COMMIT as
// one simple-protocol message, their parameters inlined as literals.

describe("[postgres] pg-driver: parameters inlined as literals", () => {
  let client: pg.Client;
  before(async () => {
    client = new pg.Client({ connectionString: PG_ADMIN_URL });
    await client.connect();
  });
  after(() => client.end());

  const values: unknown[] = [
    Buffer.from([0, 1, 255, 92, 39]),
    "it's a \\ back'slash",
    new Date("2026-12-01T11:58:24.717Z"),
    [1, 'a"b', null, "c\\d"],
    { a: "x'y\\", n: [1, 2], u: "é ☃" },
    true,
    42,
    null,
    "$1 and $$ inside",
    "E'",
  ];
  const statement =
    "select $1::bytea as b, $2::text as t, $3::timestamptz as d, $4::text[] as arr, $5::jsonb as j, $6::boolean as bo, " +
    "$7::int as n, $8::text as nu, $9 as s, '$1 it''s' as q, E'\\'$2' as e, $$ $3 $$ as dq, $tag$ $4 $tag$ as dq2, $10 as last /* $5 /* nested $6 */ */ -- $7\n";

  it("answers what the same statement with its parameters answers", async () => {
    const extended = await client.query(statement, values);
    const inlined = inlineParameters(statement, values);
    // Placeholders inside literals, quoted bodies and comments are left alone.
    assert.match(inlined, /'\$1 it''s'/);
    assert.match(inlined, /\$\$ \$3 \$\$/);
    assert.match(inlined, /\$tag\$ \$4 \$tag\$/);
    assert.match(inlined, /nested \$6 \*\/ \*\/ -- \$7/);
    const simple = (await client.query(`${inlined}\n;\nselect 1`)) as unknown as pg.QueryResult[];
    assert.deepEqual(simple[0]!.rows[0], extended.rows[0]);
    assert.deepEqual(extended.rows[0].b, values[0]);
    assert.equal(extended.rows[0].e, "'$2");
  });

  it("refuses a NUL in a parameter as PostgreSQL does (22021), instead of cutting the message short", async () => {
    await assert.rejects(client.query("select $1::text", ["a\0b"]), (err: { code?: string }) => err.code === "22021");
    assert.throws(() => inlineParameters("select $1::text", ["a\0b"]), (err: { code?: string }) => err.code === "22021");
  });

  it("refuses a placeholder without its parameter", () => {
    assert.throws(() => inlineParameters("select $2", ["a"]), /\$2 of 1/);
  });
});

describe("[postgres] pg-driver: BEGIN and deferrable statements batched", () => {
  let database: OpenDatabase;
  const sent: string[] = [];
  const original = pg.Client.prototype.query;
  before(async () => {
    database = await createTestDatabase("postgres");
    await sql`create table pw_t (id int primary key, note text)`.execute(database.db);
    (pg.Client.prototype as { query: unknown }).query = function (this: pg.Client, ...args: unknown[]) {
      sent.push(String(typeof args[0] === "string" ? args[0] : (args[0] as { text?: string })?.text));
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
  });
  after(async () => {
    pg.Client.prototype.query = original;
    await database.close();
  });

  const insert = (id: number, note: string) => sql`insert into pw_t (id, note) values (${id}, ${note})`;
  const notes = async () => (await sql<{ id: number; note: string }>`select id, note from pw_t order by id`.execute(database.db)).rows;

  it("a transaction of one read, two deferred writes and a commit is two messages; the writes run before the next statement", async () => {
    await sql`delete from pw_t`.execute(database.db);
    sent.length = 0;
    const seen = await database.db.transaction().execute(async (trx) => {
      await executeDeferrable(trx, insert(1, "one").compile(trx));
      await executeDeferrable(trx, insert(2, "two's").compile(trx));
      // The held writes go first, in order: this read sees them.
      const rows = (await sql<{ n: string }>`select count(*) as n from pw_t`.execute(trx)).rows;
      await executeDeferrable(trx, insert(3, "three").compile(trx));
      return rows[0]!.n;
    });
    assert.equal(Number(seen), 2);
    // Two messages, then the connection, going back to the pool, prepares the statement it sent inlined.
    assert.equal(sent.length, 3, sent.join("\n---\n"));
    assert.match(sent[0]!, /^begin\n;\ninsert into pw_t .*\n;\ninsert into pw_t .*\n;\nselect count/s);
    assert.match(sent[1]!, /^insert into pw_t .*'three'.*\n;\ncommit$/s);
    assert.match(sent[2]!, /^prepare pbx_\d+ as insert into pw_t \(id, note\) values \(\$1, \$2\)$/);
    assert.deepEqual(await notes(), [
      { id: 1, note: "one" },
      { id: 2, note: "two's" },
      { id: 3, note: "three" },
    ]);
  });

  it("a statement prepared so is executed by its name from then on: not parsed and planned again", async () => {
    await sql`delete from pw_t`.execute(database.db);
    const messages: string[] = [];
    // The pool hands out the connection released last; a few rounds reach the one that prepared it in any case.
    for (let id = 10; id < 20; id++) {
      sent.length = 0;
      await database.db.transaction().execute(async (trx) => {
        await executeDeferrable(trx, insert(id, `it's ${id}`).compile(trx));
      });
      messages.push(...sent);
      if (sent.some((m) => m.includes("execute pbx_"))) break;
    }
    const byName = messages.find((m) => m.includes("execute pbx_"));
    assert.ok(byName, messages.join("\n---\n"));
    assert.match(byName, /^begin\n;\nexecute pbx_\d+\('\d+', 'it''s \d+'\)\n;\ncommit$/);
    assert.match(expandExecutes(byName), /^begin\n;\ninsert into pw_t \(id, note\) values \(\$1, \$2\)\n;\ncommit$/);
    const rows = await notes();
    assert.equal(rows.length, messages.filter((m) => /commit$/.test(m)).length);
    for (const r of rows) assert.equal(r.note, `it's ${r.id}`);
  });

  it("a transaction that sends nothing costs nothing; a rolled-back one sends nothing it held", async () => {
    sent.length = 0;
    await database.db.transaction().execute(async () => {});
    assert.equal(sent.length, 0);
    await assert.rejects(
      database.db.transaction().execute(async (trx) => {
        await executeDeferrable(trx, insert(9, "never").compile(trx));
        throw new Error("changed my mind");
      }),
      /changed my mind/,
    );
    assert.equal(sent.length, 0, sent.join("\n"));
    assert.equal((await notes()).some((r) => r.id === 9), false);
  });

  it("a deferred write that fails fails the commit, and nothing of the transaction remains", async () => {
    await sql`delete from pw_t`.execute(database.db);
    await assert.rejects(
      database.db.transaction().execute(async (trx) => {
        await insert(5, "kept?").execute(trx);
        // The same primary key again: refused at the commit.
        await executeDeferrable(trx, insert(5, "duplicate").compile(trx));
      }),
      (err: { code?: string }) => err.code === "23505",
    );
    assert.deepEqual(await notes(), []);
    // The connection is usable afterwards (rolled back, back in the pool).
    await insert(6, "after").execute(database.db);
    assert.deepEqual(await notes(), [{ id: 6, note: "after" }]);
  });

  it("outside a transaction a deferrable statement runs at once", async () => {
    await sql`delete from pw_t`.execute(database.db);
    await executeDeferrable(database.db, insert(7, "now").compile(database.db));
    assert.deepEqual(await notes(), [{ id: 7, note: "now" }]);
  });
});

describe("[postgres] pg-driver: prepared statements and the COMMIT's answer", () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase("postgres", { poolSize: 1 });
    await sql`create table ps_t (id int primary key, note text)`.execute(database.db);
  });
  after(() => database.close());

  const prepared = async () => (await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(database.db)).rows.map((r) => r.statement);

  it("a statement with parameters is prepared once on the connection and reused; one without is not", async () => {
    const read = (id: number) => sql<{ note: string }>`select note from ps_t where id = ${id}`.execute(database.db);
    await sql`insert into ps_t (id, note) values (${1}, ${"one"}), (${2}, ${"two"})`.execute(database.db);
    assert.equal((await read(1)).rows[0]!.note, "one");
    assert.equal((await read(2)).rows[0]!.note, "two");
    const names = await prepared();
    assert.equal(names.filter((s) => s === "select note from ps_t where id = $1").length, 1, names.join("\n"));
    assert.ok(!names.some((s) => s.startsWith("select statement from pg_prepared_statements")), "no parameters: not prepared");
  });

  it("a prepared read whose table changed shape since (another process migrated) is answered, not refused", async () => {
    const all = () => sql<Record<string, unknown>>`select * from ps_t where id = ${1}`.execute(database.db);
    assert.deepEqual(Object.keys((await all()).rows[0]!), ["id", "note"]);
    const other = new pg.Client({ connectionString: database.url! });
    await other.connect();
    await other.query("alter table ps_t add column extra text");
    await other.end();
    assert.deepEqual(Object.keys((await all()).rows[0]!), ["id", "note", "extra"]);
    assert.deepEqual(Object.keys((await all()).rows[0]!), ["id", "note", "extra"], "and again, unnamed from now on");
  });

  it("a transaction whose earlier statement failed (and was caught) does not pass for committed: COMMIT answered ROLLBACK is an error", async () => {
    await assert.rejects(
      database.db.transaction().execute(async (trx) => {
        await sql`insert into ps_t (id, note) values (${10}, ${"kept?"})`.execute(trx);
        await sql`insert into ps_t (id, note) values (${10}, ${"duplicate"})`.execute(trx).catch(() => {});
      }),
      (err: Error) => err.name === "TransactionRolledBackError",
    );
    assert.equal((await sql`select 1 from ps_t where id = ${10}`.execute(database.db)).rows.length, 0);
    // The connection is usable afterwards.
    await sql`insert into ps_t (id, note) values (${11}, ${"after"})`.execute(database.db);
  });

  it("PATCHBAY_PG_PREPARE=false: nothing is prepared", async () => {
    const unprepared = await createTestDatabase("postgres", { poolSize: 1, prepare: false });
    try {
      await sql`select ${1}::int as n`.execute(unprepared.db);
      assert.deepEqual((await sql`select name from pg_prepared_statements`.execute(unprepared.db)).rows, []);
    } finally {
      await unprepared.close();
    }
  });
});

describe("[postgres] pg-driver: change announcements go out behind the COMMIT (migration 0044)", () => {
  let database: OpenDatabase & { url?: string };
  let listener: pg.Client;
  const heard: string[] = [];
  before(async () => {
    database = await createTestDatabase("postgres");
    listener = new pg.Client({ connectionString: (database as { url: string }).url });
    await listener.connect();
    listener.on("notification", (n) => heard.push(n.payload ?? ""));
    await listener.query("listen patchbay_changes");
  });
  after(async () => {
    await listener.end();
    await database.close();
  });

  const entityId = "01a23200-0000-7000-8000-000000000001";
  const heardSoon = async (payload: string) => {
    for (let i = 0; i < 100 && !heard.includes(payload); i++) await new Promise((r) => setTimeout(r, 20));
    return heard.includes(payload);
  };
  const pendingIn = async (client: pg.Client) => (await client.query("select current_setting('patchbay.announcements', true) as p")).rows[0].p as string | null;

  it("a transaction that wrote a connector is announced once it committed, by a transaction of its own; a rolled-back one is not", async () => {
    await sql`insert into entities (id, name, created_at) values (${entityId}, 'Announcer', now())`.execute(database.db);
    const connectorId = "01a23200-0000-7000-8000-000000000002";
    await database.db.transaction().execute(async (trx) => {
      await sql`insert into connectors (id, entity_id, connector_type, display_name, mode, is_active, config, created_at, updated_at)
                values (${connectorId}, ${entityId}, 'stripe', 'A', 'live', true, '{}', now(), now())`.execute(trx);
      // Kept in the session, not queued for this transaction's commit.
      const pending = (await sql<{ p: string }>`select current_setting('patchbay.announcements', true) as p`.execute(trx)).rows[0]!.p;
      assert.equal(pending, `connectors:${entityId}`);
    });
    assert.ok(await heardSoon(`connectors:${entityId}`), heard.join(", "));

    heard.length = 0;
    await assert.rejects(
      database.db.transaction().execute(async (trx) => {
        await sql`update connectors set display_name = 'B' where id = ${connectorId}`.execute(trx);
        throw new Error("changed my mind");
      }),
      /changed my mind/,
    );
    await database.db.transaction().execute(async (trx) => {
      await sql`update entities set name = 'Announcer 2' where id = ${entityId}`.execute(trx);
    });
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(heard, []);

    // Outside a transaction: announced right after the statement.
    await sql`update connectors set display_name = 'C' where id = ${connectorId}`.execute(database.db);
    assert.ok(await heardSoon(`connectors:${entityId}`), heard.join(", "));
  });

  it("another session (psql, an older process) still announces at commit", async () => {
    heard.length = 0;
    const other = new pg.Client({ connectionString: (database as { url: string }).url });
    await other.connect();
    try {
      await other.query("begin");
      await other.query("update connectors set display_name = 'D' where entity_id = $1", [entityId]);
      assert.equal(await pendingIn(other), null);
      await other.query("commit");
      assert.ok(await heardSoon(`connectors:${entityId}`), heard.join(", "));
    } finally {
      await other.end();
    }
  });

  it("a bulk write announces its table by name past about 80 rows", async () => {
    heard.length = 0;
    await database.db.transaction().execute(async (trx) => {
      await sql`insert into entities (id, name, created_at)
                select ('01a23200-0000-7000-9000-' || lpad(g::text, 12, '0'))::uuid, 'Bulk', now() from generate_series(1, 200) g`.execute(trx);
      await sql`insert into connectors (id, entity_id, connector_type, display_name, mode, is_active, config, created_at, updated_at)
                select ('01a23200-0000-7000-a000-' || lpad(g::text, 12, '0'))::uuid, ('01a23200-0000-7000-9000-' || lpad(g::text, 12, '0'))::uuid,
                       'stripe', 'Bulk', 'live', true, '{}', now(), now() from generate_series(1, 200) g`.execute(trx);
    });
    assert.ok(await heardSoon("connectors"), heard.slice(-3).join(", "));
    assert.ok(heard.length < 100, `${heard.length} notifications`);
  });
});
