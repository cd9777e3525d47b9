import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CompiledQuery } from "kysely";
import pg from "pg";
import { createTestDatabase, type TestDatabase } from "./helpers/databases.ts";
import { requestTransaction } from "../src/db/request-transaction.ts";
import { sameStatement, withLookahead } from "../src/db/lookahead.ts";
import { ANNOUNCE_AFTER_COMMIT } from "../src/db/pg-driver.ts";

// A statement with a lookahead companion (src/db/lookahead.ts) takes one round trip for both; the companion's
// answer serves the transaction's next statement only if that is the same statement, and is dropped otherwise.

const ENTITY = "01a2a000-0000-7000-8000-000000000001";
const lockEntity = () => CompiledQuery.raw(`select id, name from entities where id = $1 for update`, [ENTITY]);

for (const kind of ["postgres", "pglite"] as const) {
  describe(`[${kind}] a statement's lookahead companion`, () => {
    let database: TestDatabase;
    const sent: string[] = [];
    let counting = false;
    const original = pg.Client.prototype.query;
    before(async () => {
      database = await createTestDatabase(kind);
      await database.db.executeQuery(CompiledQuery.raw(`insert into entities (id, name, created_at) values ($1, 'Acme', now())`, [ENTITY]));
      (pg.Client.prototype as { query: unknown }).query = function (this: pg.Client, ...args: unknown[]) {
        const text = String(typeof args[0] === "string" ? args[0] : (args[0] as { text?: string })?.text);
        if (counting && text !== ANNOUNCE_AFTER_COMMIT && text !== "listen patchbay_changes") sent.push(text.replace(/\s+/g, " "));
        return (original as (...a: unknown[]) => unknown).apply(this, args);
      };
    });
    after(async () => {
      pg.Client.prototype.query = original;
      await database.close();
    });
    const count = async <T>(fn: () => Promise<T>): Promise<T> => {
      sent.length = 0;
      counting = true;
      try {
        return await fn();
      } finally {
        counting = false;
      }
    };

    it("answers the statement it rides with, then the same next statement from what it brought", async () => {
      const tx = requestTransaction(database.db);
      const [first, next] = await count(async () => {
        const first = await tx.execute<{ one: number }>(withLookahead(CompiledQuery.raw("select 1 as one", []), lockEntity()));
        const next = await tx.execute<{ id: string; name: string }>(lockEntity());
        return [first, next];
      });
      await tx.rollback();
      assert.deepEqual(first.rows, [{ one: 1 }]);
      assert.deepEqual(next.rows, [{ id: ENTITY, name: "Acme" }]);
      if (kind === "postgres") {
        assert.equal(sent.length, 1, sent.join("\n"));
        // A lock rides as SKIP LOCKED: it never makes the statement it rides with wait.
        assert.match(sent[0]!, /^begin ; select 1 as one ; select id, name from entities where id = '.*' for update skip locked$/);
      }
    });

    it("is dropped when the next statement is another, which is then sent", async () => {
      const tx = requestTransaction(database.db);
      const other = await count(async () => {
        await tx.execute(withLookahead(CompiledQuery.raw("select 1 as one", []), lockEntity()));
        return tx.execute<{ name: string }>(CompiledQuery.raw(`select name from entities where id = $1`, [ENTITY]));
      });
      // And not kept for later: the same statement as the companion, now, is sent.
      const later = await count(() => tx.execute<{ id: string }>(lockEntity()));
      await tx.rollback();
      assert.deepEqual(other.rows, [{ name: "Acme" }]);
      assert.equal(later.rows.length, 1);
      if (kind === "postgres") assert.equal(sent.length, 1, "the companion's answer served a statement that was not next");
    });

    it("never waits for a row another transaction holds: the statement it rides with answers at once, and the next is sent and waits", async () => {
      if (kind !== "postgres") return;
      const other = new pg.Client({ connectionString: database.url! });
      await other.connect();
      await other.query("begin");
      await other.query(`select id from entities where id = $1 for update`, [ENTITY]);
      const tx = requestTransaction(database.db);
      try {
        const first = await count(() => tx.execute<{ one: number }>(withLookahead(CompiledQuery.raw("select 1 as one", []), lockEntity())));
        assert.deepEqual(first.rows, [{ one: 1 }]);
        assert.equal(sent.length, 1);
        // The lock it skipped is taken by the next statement, sent after all: it waits for the other transaction.
        let settled = false;
        const next = count(() => tx.execute<{ id: string }>(lockEntity())).then((r) => ((settled = true), r));
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(settled, false, "the skipped lock was answered as if taken");
        await other.query("commit");
        assert.equal((await next).rows.length, 1);
        assert.match(sent[0]!, /^select id, name from entities where id = \$1 for update$/, sent.join("\n"));
      } finally {
        await tx.rollback();
        await other.end();
      }
    });

    it("holds what the companion locked until the transaction ends, and not after", async () => {
      if (kind !== "postgres") return;
      const tx = requestTransaction(database.db);
      await tx.execute(withLookahead(CompiledQuery.raw("select 1 as one", []), lockEntity()));
      const other = new pg.Client({ connectionString: database.url! });
      await other.connect();
      try {
        await assert.rejects(other.query(`select id from entities where id = $1 for update nowait`, [ENTITY]), { code: "55P03" });
        await tx.rollback();
        const { rows } = await other.query(`select id from entities where id = $1 for update nowait`, [ENTITY]);
        assert.equal(rows.length, 1);
      } finally {
        await other.end();
      }
    });
  });
}

describe("sameStatement", () => {
  it("compares the text and each parameter, dates by their time", () => {
    const at = (ms: number) => new Date(ms);
    assert.ok(sameStatement(CompiledQuery.raw("select $1", ["a"]), CompiledQuery.raw("select $1", ["a"])));
    assert.ok(sameStatement(CompiledQuery.raw("select $1", [at(5)]), CompiledQuery.raw("select $1", [at(5)])));
    assert.ok(!sameStatement(CompiledQuery.raw("select $1", [at(5)]), CompiledQuery.raw("select $1", [at(6)])));
    assert.ok(!sameStatement(CompiledQuery.raw("select $1", ["a"]), CompiledQuery.raw("select $1", ["b"])));
    assert.ok(!sameStatement(CompiledQuery.raw("select $1", ["a"]), CompiledQuery.raw("select $2", ["a"])));
    assert.ok(!sameStatement(CompiledQuery.raw("select $1", ["a"]), CompiledQuery.raw("select $1, $2", ["a", "b"])));
  });
});
