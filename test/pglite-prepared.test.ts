import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { PGlite } from "@electric-sql/pglite";
import { CompiledQuery, sql, type Kysely } from "kysely";
import { openDatabase, type OpenDatabase } from "../src/db/index.ts";

// The embedded dialect sends a statement with parameters as a named prepared statement (src/db/pglite-dialect.ts):
// what PGlite's query() answers, it answers, with the statement parsed once.
describe("[pglite] statements with parameters, prepared by name", () => {
  let pglite: PGlite;
  let database: OpenDatabase;
  let db: Kysely<any>;
  const prepared = async (text: string): Promise<number> =>
    (await pglite.query<{ n: number }>("select count(*)::int as n from pg_prepared_statements where statement = $1", [text])).rows[0]!.n;

  before(async () => {
    pglite = await PGlite.create();
    database = await openDatabase({ kind: "pglite", instance: pglite });
    db = database.db as unknown as Kysely<any>;
    await sql`create table things (id int primary key, name text not null, tags text[], doc jsonb, at timestamptz, ok boolean, big bigint, num numeric)`.execute(db);
  });
  after(async () => {
    await database.close();
  });

  it("is prepared the first time its text is seen and run by name after that", async () => {
    const text = "select $1::int + $2::int as sum";
    for (let i = 0; i < 5; i++) {
      const { rows } = await db.executeQuery<{ sum: number }>(CompiledQuery.raw(text, [i, 2]));
      assert.equal(rows[0]!.sum, i + 2);
    }
    assert.equal(await prepared(text), 1);
  });

  it("writes and reads back every type as PGlite's query() does", async () => {
    const at = new Date("2026-12-02T10:11:12.345Z");
    const doc = { b: 2, a: [1, "x", null], nested: { ok: true } };
    await db.insertInto("things").values({ id: 1, name: "it's", tags: ["a", "b,c", 'd"e'], doc: JSON.stringify(doc), at, ok: true, big: 9007199254740991n.toString(), num: "12.50" }).execute();
    await db.insertInto("things").values({ id: 2, name: "none", tags: null, doc: null, at: null, ok: false, big: null, num: null }).execute();
    const mine = await db.selectFrom("things").selectAll().where("id", "in", [1, 2]).orderBy("id").execute();
    const theirs = (await pglite.query("select * from things where id = any($1) order by id", [[1, 2]])).rows;
    assert.deepEqual(mine, theirs);
    assert.ok(mine[0]!.at instanceof Date && mine[0]!.at.getTime() === at.getTime());
    assert.deepEqual(mine[0]!.doc, doc);
    assert.deepEqual(mine[0]!.tags, ["a", "b,c", 'd"e']);
    const updated = await db.updateTable("things").set({ name: "renamed" }).where("id", "in", [1, 2]).executeTakeFirst();
    assert.equal(updated.numUpdatedRows, 2n);
  });

  it("sees a schema change: a prepared `select *` answers the new column, not an error", async () => {
    const read = () => db.selectFrom("things").selectAll().where("id", "=", 1).executeTakeFirstOrThrow();
    assert.equal("added" in (await read()), false);
    await sql`alter table things add column added text default 'yes'`.execute(db);
    assert.equal((await read()).added, "yes");
  });

  it("raises PostgreSQL's error with its SQLSTATE, and the session goes on", async () => {
    await assert.rejects(db.insertInto("things").values({ id: 1, name: "again" }).execute(), (e: { code?: string }) => e.code === "23505");
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await trx.insertInto("things").values({ id: 3, name: "in a transaction" }).execute();
        await trx.insertInto("things").values({ id: 3, name: "twice" }).execute();
      }),
      (e: { code?: string }) => e.code === "23505",
    );
    assert.equal(await db.selectFrom("things").select("id").where("id", "=", 3).executeTakeFirst(), undefined, "the transaction was rolled back");
    assert.equal((await db.selectFrom("things").select("name").where("id", "=", 2).executeTakeFirstOrThrow()).name, "renamed");
  });

  it("keeps at most 200 statements prepared, closing the least recently used", async () => {
    const hot = "select $1::int as hot";
    for (let i = 0; i < 250; i++) {
      await db.executeQuery(CompiledQuery.raw(hot, [i]));
      await db.executeQuery(CompiledQuery.raw(`select $1::int as n${i}`, [i]));
    }
    const { rows } = await pglite.query<{ n: number }>("select count(*)::int as n from pg_prepared_statements");
    assert.ok(rows[0]!.n <= 200, `${rows[0]!.n} statements prepared`);
    assert.equal(await prepared(hot), 1, "the statement used all along is still prepared");
    assert.equal(await prepared("select $1::int as n0"), 0, "the oldest of the others was closed");
  });

  it("is prepared again after 1,000 executions, so that its plan is made again on the tables as they have grown", async () => {
    const text = "select $1::int as replanned";
    const name = async (): Promise<string[]> => (await pglite.query<{ name: string }>("select name from pg_prepared_statements where statement = $1", [text])).rows.map((r) => r.name);
    for (let i = 0; i < 1000; i++) await db.executeQuery(CompiledQuery.raw(text, [i]));
    const first = await name();
    assert.equal(first.length, 1);
    await db.executeQuery(CompiledQuery.raw(text, [1000]));
    const second = await name();
    assert.equal(second.length, 1, "the first one was closed");
    assert.notEqual(second[0], first[0], "the 1,001st execution prepared it anew");
  });

  it("answers statements of one transaction sent at once each with its own rows", async () => {
    await db.transaction().execute(async (trx) => {
      const answers = await Promise.all([1, 2, 1, 2].map((id) => trx.selectFrom("things").select(["id", "name"]).where("id", "=", id).executeTakeFirstOrThrow()));
      assert.deepEqual(answers.map((a) => a.id), [1, 2, 1, 2]);
    });
  });
});
