import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { openDatabase } from "../../src/db/index.ts";
import { migrate, migrationFiles, NewerMigrationError } from "../../src/db/migrate.ts";
import { createTestDatabase, DB_KINDS, PG_ADMIN_URL, withDatabase } from "../helpers/databases.ts";
import { startTestServerProcess, type ServerProcess } from "../helpers/process.ts";

const VERSIONS = migrationFiles().map((f) => f.replace(/\.sql$/, ""));
const FROM_THE_FUTURE = "9999_from_a_newer_release";

/** A PostgreSQL database with nothing in it: not cloned from the migrated template. */
async function emptyPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `patchbay_empty_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  return {
    url: withDatabase(PG_ADMIN_URL, name),
    drop: async () => {
      const dropper = new pg.Client({ connectionString: PG_ADMIN_URL });
      await dropper.connect();
      await dropper.query(`drop database if exists ${name} with (force)`);
      await dropper.end();
    },
  };
}

function migrationLines(stdout: string): Array<{ migration: string; durationMs: number }> {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.component === "migrations")
    .map((l) => ({ migration: l.migration as string, durationMs: l.durationMs as number }));
}

describe("[postgres] four processes started at once on one empty database all come up; the migrations run once", () => {
  let database: { url: string; drop(): Promise<void> };
  let servers: ServerProcess[] = [];
  before(async () => {
    database = await emptyPostgresDatabase();
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await database.drop();
  });

  it("all four answer /healthz 200; each migration is applied and logged by exactly one of them", async () => {
    // Jobs on: each process also races to create the recurring jobs' schedule rows.
    const started = await Promise.allSettled(Array.from({ length: 4 }, () => startTestServerProcess({ DATABASE_URL: database.url, PATCHBAY_JOBS: "true" })));
    servers = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    const failures = started.flatMap((s) => (s.status === "rejected" ? [String(s.reason)] : []));
    assert.deepEqual(failures, [], "every process started");
    for (const server of servers) assert.equal((await fetch(`${server.url}/healthz`)).status, 200);

    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const rows = await client.query<{ version: string }>("select version from schema_migrations order by version");
    const schedules = await client.query<{ singleton_key: string; n: string }>(
      "select singleton_key, count(*)::text as n from jobs where singleton_key like 'every:%' group by singleton_key having count(*) > 1",
    );
    await client.end();
    assert.deepEqual(
      rows.rows.map((r) => r.version),
      VERSIONS,
    );
    assert.deepEqual(schedules.rows, [], "one schedule row per recurring job");

    const logged = servers.flatMap((s) => migrationLines(s.stdout()));
    assert.deepEqual(logged.map((l) => l.migration).sort(), VERSIONS, "one log line per migration, across the four processes");
    for (const line of logged) assert.ok(Number.isInteger(line.durationMs) && line.durationMs >= 0, `time taken logged for ${line.migration}`);
    const migrators = servers.filter((s) => migrationLines(s.stdout()).length > 0);
    assert.equal(migrators.length, 1, "one process migrated; the others waited and found nothing to do");
  });

  it("a process finding a migration newer than it knows refuses to start and says so", async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query("insert into schema_migrations (version) values ($1)", [FROM_THE_FUTURE]);
    await client.end();
    await assert.rejects(
      async () => {
        const server = await startTestServerProcess({ DATABASE_URL: database.url });
        servers.push(server);
      },
      (err: Error) => {
        assert.match(err.message, /server exited with 1/);
        assert.match(err.message, new RegExp(`failed to start: the database has migration ${FROM_THE_FUTURE} applied, newer than this version of Patchbay knows \\(its latest is ${VERSIONS.at(-1)}\\)`));
        return true;
      },
    );
  });
});

describe("[postgres] migrators racing on one empty database: none fails, each migration is applied once", () => {
  it("two rounds of eight concurrent migrate() calls, each on its own connection", async () => {
    for (let round = 0; round < 2; round++) {
      const empty = await emptyPostgresDatabase();
      const pools = await Promise.all(Array.from({ length: 8 }, () => openDatabase({ kind: "postgres", url: empty.url, poolSize: 1 })));
      try {
        const results = await Promise.allSettled(pools.map((p) => migrate(p.db)));
        assert.deepEqual(
          results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason)),
          [],
          `round ${round + 1}: every migrator succeeded`,
        );
        const applied = results.flatMap((r) => (r.status === "fulfilled" ? r.value : []));
        assert.deepEqual(applied.sort(), VERSIONS, `round ${round + 1}: each migration applied by exactly one migrator`);
      } finally {
        await Promise.all(pools.map((p) => p.close()));
        await empty.drop();
      }
    }
  });
});

// On the embedded database the same run builds the tests' template (test/prepare.ts) at every migration change.
describe("[postgres] migrate(): one log line per migration applied, with its time; nothing when up to date", () => {
  it("a fresh database gets every migration, each logged with its time; a second run applies and logs nothing", async () => {
    const empty = await emptyPostgresDatabase();
    const fresh = { ...(await openDatabase({ kind: "postgres", url: empty.url, poolSize: 2 })), drop: empty.drop };
    try {
      const lines: Array<{ obj: Record<string, unknown>; msg: string }> = [];
      const log = { info: (obj: object, msg: string) => lines.push({ obj: obj as Record<string, unknown>, msg }) };
      assert.deepEqual(await migrate(fresh.db, log), VERSIONS);
      assert.deepEqual(
        lines.map((l) => l.obj.migration),
        VERSIONS,
      );
      for (const l of lines) assert.match(l.msg, new RegExp(`^applied migration ${l.obj.migration} in \\d+ ms$`));
      lines.length = 0;
      assert.deepEqual(await migrate(fresh.db, log), []);
      assert.deepEqual(lines, []);
    } finally {
      await fresh.close();
      await fresh.drop();
    }
  });
});

for (const kind of DB_KINDS) {
  describe(`[${kind}] migrate() refuses a database migrated by a newer release`, () => {
    it("a database with an unknown migration after the latest known one is refused, and nothing is applied", async () => {
      const database = await createTestDatabase(kind);
      try {
        await database.db.insertInto("schema_migrations").values({ version: FROM_THE_FUTURE, applied_at: new Date() }).execute();
        await assert.rejects(migrate(database.db), (err: unknown) => err instanceof NewerMigrationError && err.newer.join() === FROM_THE_FUTURE);
        // The lock was given back: the database is usable (and migratable once the row is gone).
        await database.db.deleteFrom("schema_migrations").where("version", "=", FROM_THE_FUTURE).execute();
        assert.deepEqual(await migrate(database.db), []);
      } finally {
        await database.close();
      }
    });
  });
}
