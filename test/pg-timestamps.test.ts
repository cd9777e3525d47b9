import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import { sql } from "kysely";
import { timestamptzParser } from "../src/db/pg-timestamps.ts";
import { createTestDatabase } from "./helpers/databases.ts";

const reference = pg.types.getTypeParser(1184, "text");
const fast = timestamptzParser(reference);

const same = (text: string) => {
  const want = reference(text) as Date | number | null;
  const got = fast(text) as Date | number | null;
  const show = (v: Date | number | null) => (v instanceof Date ? `Date(${v.getTime()})` : String(v));
  assert.equal(show(got), show(want), text);
};

describe("timestamptz read by position (pg-timestamps.ts)", () => {
  it("gives node-postgres's own Date for every layout PostgreSQL sends, and hands the rest to it", () => {
    for (const text of [
      "2026-12-01 21:11:00+00",
      "2026-12-01 21:11:00.1+00",
      "2026-12-01 21:11:00.12+00",
      "2026-12-01 21:11:00.57+00",
      "2026-12-01 21:11:00.123456+00",
      "2026-12-01 21:11:00.999999+00",
      "2026-12-01 21:11:00.123456+05:30",
      "2026-12-01 21:11:00.5-03:30",
      "1850-01-01 00:00:00+00:19:32",
      "1850-01-01 00:00:00-04:56:02",
      "2024-02-29 23:59:59.999-12",
      "1000-01-01 00:00:00+00",
      // Not the fixed layout: node-postgres's parser decides.
      "0099-06-01 00:00:00+00",
      "0044-03-15 12:00:00+00 BC",
      "infinity",
      "-infinity",
      "12026-01-01 00:00:00+00",
      "2026-12-01 21:11:00.+00",
      "2026-12-01 21:11:00",
      "2026-12-01T21:11:00Z",
    ]) {
      same(text);
    }
  });

  it("agrees with node-postgres on 20,000 random values", () => {
    let seed = 7;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const pad = (v: number, w: number) => String(v).padStart(w, "0");
    for (let k = 0; k < 20_000; k++) {
      const fraction = rand(7);
      const frac = fraction === 0 ? "" : `.${pad(rand(10 ** fraction), fraction)}`;
      const offsetKind = rand(3);
      const sign = rand(2) ? "+" : "-";
      const offset = `${sign}${pad(rand(15), 2)}${offsetKind > 0 ? `:${pad(rand(60), 2)}` : ""}${offsetKind > 1 ? `:${pad(rand(60), 2)}` : ""}`;
      same(`${pad(1000 + rand(9000), 4)}-${pad(1 + rand(12), 2)}-${pad(1 + rand(28), 2)} ${pad(rand(24), 2)}:${pad(rand(60), 2)}:${pad(rand(60), 2)}${frac}${offset}`);
    }
  });

  it("[postgres] reads what the server sends in any TimeZone as the same instant", async () => {
    const database = await createTestDatabase("postgres", { poolSize: 1 });
    try {
      for (const zone of ["UTC", "Asia/Kolkata", "America/St_Johns", "Europe/Amsterdam", "Pacific/Chatham"]) {
        await sql`select set_config('TimeZone', ${zone}, false)`.execute(database.db);
        const { rows } = await sql<{ a: Date; b: Date; c: Date; text_a: string }>`select t.a, t.b, t.c, t.a::text as text_a from (select
          '2026-12-01 21:11:00.123456+00'::timestamptz as a, '1850-01-01 00:00:00+00'::timestamptz as b, '2024-06-30 23:59:59.5+00'::timestamptz as c) t`.execute(database.db);
        const row = rows[0]!;
        assert.equal(row.a.toISOString(), "2026-12-01T21:11:00.123Z", `${zone}: ${row.text_a}`);
        assert.equal(row.b.toISOString(), "1850-01-01T00:00:00.000Z", zone);
        assert.equal(row.c.toISOString(), "2024-06-30T23:59:59.500Z", zone);
      }
    } finally {
      await database.close();
    }
  });
});
