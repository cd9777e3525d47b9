import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, afterEach, before, describe, it } from "node:test";
import { systemClock, type Clock } from "../src/kernel/clock.ts";
import { openDatabase, type OpenDatabase } from "../src/db/index.ts";
import { createJobQueue, defaultBackoffMs, type JobQueue } from "../src/queue/queue.ts";
import { ManualClock } from "./helpers/clock.ts";
import { createTestDatabase, DB_KINDS, type TestDatabase } from "./helpers/databases.ts";

const here = path.dirname(fileURLToPath(import.meta.url));

async function queuedJobs(database: OpenDatabase) {
  return database.db.selectFrom("jobs").selectAll().orderBy("id").execute();
}

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

async function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 5));
  }
}

for (const kind of DB_KINDS) {
  describe(`[${kind}] the job queue`, () => {
    let database: TestDatabase;
    let clock: ManualClock;
    const started: JobQueue[] = [];
    const queue = (opts: { clock?: Clock; pollMs?: number; concurrency?: number; db?: OpenDatabase } = {}) =>
      createJobQueue({ db: (opts.db ?? database).db, clock: opts.clock ?? clock, pollMs: opts.pollMs, concurrency: opts.concurrency });

    before(async () => {
      database = await createTestDatabase(kind);
    });
    after(async () => database.close());
    afterEach(async () => {
      for (const q of started.splice(0)) await q.stop();
      await database.db.deleteFrom("jobs").execute();
      clock = new ManualClock();
    });
    clock = new ManualClock();

    describe("a queued job runs once, with its payload, and leaves the table", () => {
      it("runs on runDueJobs and is deleted on success", async () => {
        const q = queue();
        const seen: unknown[] = [];
        q.register<{ to: string }>("greet", { handler: async (p, ctx) => void seen.push([p, ctx.attempt]) });
        const id = await q.enqueue(database.db, "greet", { to: "world" });
        assert.ok(id);
        assert.deepEqual(await q.runDueJobs(), { succeeded: 1, retried: 0, failed: 0 });
        assert.deepEqual(seen, [[{ to: "world" }, 1]]);
        assert.deepEqual(await queuedJobs(database), []);
        assert.deepEqual(await q.runDueJobs(), { succeeded: 0, retried: 0, failed: 0 }, "never twice");
      });

      it("refuses to queue a job no handler is registered for", async () => {
        const q = queue();
        await assert.rejects(q.enqueue(database.db, "nobody", {}), /No job handler .*"nobody"/);
      });

      it("runAt defers the job until the clock reaches it", async () => {
        const q = queue();
        let ran = 0;
        q.register("later", { handler: async () => void ran++ });
        await q.enqueue(database.db, "later", {}, { runAt: new Date(clock.now().getTime() + 3_600_000) });
        await q.runDueJobs();
        assert.equal(ran, 0);
        clock.advance(3_600_000);
        await q.runDueJobs();
        assert.equal(ran, 1);
      });
    });

    describe("enqueue inside a caller's transaction is part of it", () => {
      it("a committed transaction's job runs; a rolled-back one's never does", async () => {
        const q = queue();
        const seen: string[] = [];
        q.register<{ tag: string }>("tx", { handler: async (p) => void seen.push(p.tag) });
        await database.db.transaction().execute(async (trx) => {
          await q.enqueue(trx, "tx", { tag: "committed" });
        });
        await assert.rejects(
          database.db.transaction().execute(async (trx) => {
            await q.enqueue(trx, "tx", { tag: "rolled back" });
            throw new Error("boom");
          }),
          /boom/,
        );
        await q.runDueJobs();
        assert.deepEqual(seen, ["committed"]);
      });
    });

    describe("a failing job is retried with exponential backoff, then marked failed", () => {
      it("waits 1 s, 2 s, 4 s between tries and keeps the last error", async () => {
        const q = queue();
        const attempts: number[] = [];
        q.register("flaky", {
          maxAttempts: 4,
          handler: async (_p, ctx) => {
            attempts.push(ctx.attempt);
            throw new Error(`try ${ctx.attempt} failed`);
          },
        });
        await q.enqueue(database.db, "flaky", {});
        assert.deepEqual(await q.runDueJobs(), { succeeded: 0, retried: 1, failed: 0 });
        for (const wait of [1000, 2000, 4000]) {
          clock.advance(wait - 50);
          await q.runDueJobs();
          assert.equal(attempts.length, [1000, 2000, 4000].indexOf(wait) + 1, `not retried before ${wait} ms`);
          clock.advance(50);
          await q.runDueJobs();
        }
        assert.deepEqual(attempts, [1, 2, 3, 4]);
        const [job] = await queuedJobs(database);
        assert.equal(job!.state, "failed");
        assert.equal(job!.attempts, 4);
        assert.equal(job!.last_error, "try 4 failed");
        assert.equal((await q.failedJobs()).length, 1);
        clock.advanceDays(30);
        await q.runDueJobs();
        assert.equal(attempts.length, 4, "a failed job is not run again");
      });

      it("succeeds on a later try and is then gone", async () => {
        const q = queue();
        let tries = 0;
        q.register("second-time-lucky", {
          handler: async () => {
            if (++tries === 1) throw new Error("not yet");
          },
        });
        await q.enqueue(database.db, "second-time-lucky", {});
        await q.runDueJobs();
        clock.advance(defaultBackoffMs(1));
        assert.deepEqual(await q.runDueJobs(), { succeeded: 1, retried: 0, failed: 0 });
        assert.deepEqual(await queuedJobs(database), []);
      });

      it("the default backoff doubles from 1 s and stops growing at 1 h", () => {
        assert.deepEqual([1, 2, 3, 4].map(defaultBackoffMs), [1000, 2000, 4000, 8000]);
        assert.equal(defaultBackoffMs(40), 3_600_000);
      });
    });

    describe("singletonKey: at most one queued job per key", () => {
      it("a second enqueue with the key returns null until the first has run", async () => {
        const q = queue();
        let ran = 0;
        q.register("sync", { handler: async () => void ran++ });
        assert.ok(await q.enqueue(database.db, "sync", {}, { singletonKey: "sync:1" }));
        assert.equal(await q.enqueue(database.db, "sync", {}, { singletonKey: "sync:1" }), null);
        assert.ok(await q.enqueue(database.db, "sync", {}, { singletonKey: "sync:2" }), "another key is independent");
        await q.runDueJobs();
        assert.equal(ran, 2);
        assert.ok(await q.enqueue(database.db, "sync", {}, { singletonKey: "sync:1" }), "free again once run");
      });
    });

    describe("recurring jobs are scheduled once across processes and run every interval", () => {
      it("two runners make one schedule row; it runs again one interval after each run", async () => {
        const runs: string[] = [];
        const a = queue();
        const b = queue();
        for (const [label, q] of [["a", a], ["b", b]] as const) {
          q.register("purge", { everyMs: 600_000, handler: async () => void runs.push(label) });
        }
        await Promise.all([a.runDueJobs(), b.runDueJobs()]);
        assert.equal(runs.length, 1, "the first run happens once, in one process");
        const rows = await queuedJobs(database);
        assert.equal(rows.length, 1);
        assert.equal(rows[0]!.singleton_key, "every:purge");

        clock.advance(599_000);
        await Promise.all([a.runDueJobs(), b.runDueJobs()]);
        assert.equal(runs.length, 1, "not before the interval");
        clock.advance(1_000);
        await Promise.all([a.runDueJobs(), b.runDueJobs()]);
        assert.equal(runs.length, 2);
        assert.equal((await queuedJobs(database)).length, 1, "still one row");
      });

      it("a failing recurring job stays scheduled and records its error", async () => {
        const q = queue();
        let runs = 0;
        q.register("sweeper", {
          everyMs: 60_000,
          handler: async () => {
            runs++;
            throw new Error("sweep failed");
          },
        });
        await q.runDueJobs();
        clock.advance(60_000);
        await q.runDueJobs();
        assert.equal(runs, 2);
        const [row] = await queuedJobs(database);
        assert.equal(row!.state, "queued");
        assert.equal(row!.last_error, "sweep failed");
      });
    });

    describe("a crashed worker's job is taken over when its lease runs out", () => {
      it("retried by another worker after the lease; the stale worker cannot complete it", async () => {
        const gate = deferred();
        const startedRun = deferred();
        const runs: string[] = [];
        const crashed = queue();
        const healthy = queue();
        crashed.register("work", {
          leaseMs: 30_000,
          handler: async () => {
            runs.push("crashed");
            startedRun.resolve();
            await gate.promise;
          },
        });
        healthy.register("work", {
          leaseMs: 30_000,
          handler: async (_p, ctx) => {
            runs.push(`healthy#${ctx.attempt}`);
            if (ctx.attempt === 2) throw new Error("retry me");
          },
        });
        await crashed.enqueue(database.db, "work", {});
        const stuck = crashed.runDueJobs();
        await startedRun.promise;

        await healthy.runDueJobs();
        assert.deepEqual(runs, ["crashed"], "held while the lease lasts");
        clock.advance(30_001);
        await healthy.runDueJobs();
        assert.deepEqual(runs, ["crashed", "healthy#2"]);
        const [retrying] = await queuedJobs(database);
        assert.equal(retrying!.last_error, "retry me");

        gate.resolve();
        await stuck;
        const [after] = await queuedJobs(database);
        assert.deepEqual(after, retrying, "the stale worker's success changed nothing");
        clock.advance(defaultBackoffMs(2));
        await healthy.runDueJobs();
        assert.deepEqual(runs, ["crashed", "healthy#2", "healthy#3"]);
        assert.deepEqual(await queuedJobs(database), []);
      });

      it("a job whose final attempt's worker vanished is marked failed, not run again", async () => {
        const gate = deferred();
        const startedRun = deferred();
        let runs = 0;
        const crashed = queue();
        const healthy = queue();
        const handler = async () => {
          runs++;
          startedRun.resolve();
          await gate.promise;
        };
        crashed.register("once", { maxAttempts: 1, leaseMs: 1000, handler });
        healthy.register("once", { maxAttempts: 1, leaseMs: 1000, handler: async () => void runs++ });
        await crashed.enqueue(database.db, "once", {});
        const stuck = crashed.runDueJobs();
        await startedRun.promise;
        clock.advance(1001);
        assert.deepEqual(await healthy.runDueJobs(), { succeeded: 0, retried: 0, failed: 1 });
        assert.equal(runs, 1);
        assert.match((await queuedJobs(database))[0]!.last_error ?? "", /lease expired/);
        gate.resolve();
        await stuck;
      });
    });

    describe("one claimant per job, however many workers poll", () => {
      it("two runners on separate connections run 200 jobs exactly once between them", async () => {
        const other = kind === "postgres" ? await openDatabase({ kind: "postgres", url: database.url!, poolSize: 10 }) : database;
        try {
          const counts = new Map<string, number>();
          const handler = async (_p: unknown, ctx: { id: string }) => {
            counts.set(ctx.id, (counts.get(ctx.id) ?? 0) + 1);
            await new Promise((r) => setImmediate(r));
          };
          const a = queue();
          const b = queue({ db: other });
          a.register("count", { handler });
          b.register("count", { handler });
          for (let i = 0; i < 200; i++) await a.enqueue(database.db, "count", { n: i });
          const [ra, rb] = await Promise.all([a.runDueJobs({ batchSize: 7 }), b.runDueJobs({ batchSize: 7 })]);
          assert.equal(ra.succeeded + rb.succeeded, 200);
          assert.equal(counts.size, 200);
          assert.ok([...counts.values()].every((c) => c === 1), "no job ran twice");
          if (kind === "postgres") assert.ok(ra.succeeded > 0 && rb.succeeded > 0, `both runners took work (${ra.succeeded}/${rb.succeeded})`);
        } finally {
          if (other !== database) await other.close();
        }
      });

      if (kind === "postgres") {
        it("a worker in another OS process and this one run 300 jobs exactly once between them", async () => {
          const q = queue({ clock: systemClock, pollMs: 20, concurrency: 8 });
          const mine: string[] = [];
          q.register("count", {
            handler: async (_p, ctx) => {
              mine.push(ctx.id);
              await new Promise((r) => setTimeout(r, 10));
            },
          });
          const child = spawn(process.execPath, ["--import", "tsx", path.join(here, "helpers/job-worker.ts"), database.url!, "3000"], { stdio: ["pipe", "pipe", "inherit"] });
          let out = "";
          child.stdout.on("data", (d) => (out += String(d)));
          const exited = new Promise<number | null>((r) => child.on("exit", r));
          await until(() => out.includes("ready\n"), 30_000);
          for (let i = 0; i < 300; i++) await q.enqueue(database.db, "count", { n: i });
          // Both processes start polling the full queue at the same moment.
          child.stdin.end("go\n");
          started.push(q);
          q.start();
          assert.equal(await exited, 0);
          const theirs = out.split("\n").filter((l) => l && l !== "ready");
          await until(() => mine.length + theirs.length >= 300, 10_000).catch(() => {});
          await q.stop();
          const all = [...mine, ...theirs];
          assert.equal(all.length, 300, `mine ${mine.length}, theirs ${theirs.length}`);
          assert.equal(new Set(all).size, 300, "no job ran in both processes");
          assert.ok(theirs.length > 0 && mine.length > 0, `both processes took work (${mine.length}/${theirs.length})`);
          assert.deepEqual(await queuedJobs(database), []);
        });
      }
    });

    describe("the worker loop picks a new job up within a second", () => {
      it("a job queued by this process starts at once; one queued in a transaction within the poll interval", async () => {
        const q = queue({ pollMs: 250 });
        const startedAt: number[] = [];
        q.register("ping", { handler: async () => void startedAt.push(Date.now()) });
        started.push(q);
        q.start();
        await new Promise((r) => setTimeout(r, 50));

        let t0 = Date.now();
        await q.enqueue(database.db, "ping", {});
        await until(() => startedAt.length === 1, 2000);
        const direct = startedAt[0]! - t0;

        t0 = Date.now();
        await database.db.transaction().execute(async (trx) => q.enqueue(trx, "ping", {}));
        await until(() => startedAt.length === 2, 2000);
        const inTransaction = startedAt[1]! - t0;

        assert.ok(direct < 1000 && inTransaction < 1000, `latency ${direct} ms / ${inTransaction} ms`);
        assert.ok(inTransaction <= 250 + 150, `in-transaction pickup ${inTransaction} ms is within the poll interval`);
      });

      it("a job queued by another process is found by the poll", async () => {
        const q = queue({ pollMs: 100 });
        const producer = queue();
        let ran = 0;
        q.register("ping", { handler: async () => void ran++ });
        producer.register("ping", { handler: async () => {} });
        started.push(q);
        q.start();
        const t0 = Date.now();
        // The producer never starts a loop: only the poll can find its job.
        await producer.enqueue(database.db, "ping", {});
        await until(() => ran === 1, 2000);
        assert.ok(Date.now() - t0 < 1000);
      });

      it("stop() waits for a running job and claims nothing afterwards", async () => {
        const q = queue({ pollMs: 20 });
        const gate = deferred();
        const begun = deferred();
        let finished = false;
        let runs = 0;
        q.register("slow", {
          handler: async () => {
            runs++;
            begun.resolve();
            await gate.promise;
            finished = true;
          },
        });
        q.start();
        await q.enqueue(database.db, "slow", {});
        await begun.promise;
        const stopping = q.stop();
        setTimeout(() => gate.resolve(), 30);
        await stopping;
        assert.equal(finished, true);
        await q.enqueue(database.db, "slow", {});
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(runs, 1, "a stopped runner claims nothing");
      });

      it("stop() releases the jobs it interrupted and those still running at its bound: another process takes them at once", async () => {
        const q = queue({ pollMs: 20 });
        const begun = { obedient: deferred(), stubborn: deferred() };
        q.register("obedient", {
          handler: (_p, ctx) =>
            new Promise<void>((_resolve, reject) => {
              begun.obedient.resolve();
              ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
            }),
        });
        // Ignores the stop signal and outlives the grace period.
        q.register("stubborn", { handler: () => (begun.stubborn.resolve(), new Promise<void>((resolve) => setTimeout(resolve, 1500))) });
        q.start();
        await q.enqueue(database.db, "obedient", {});
        await q.enqueue(database.db, "stubborn", {});
        await Promise.all([begun.obedient.promise, begun.stubborn.promise]);
        await q.stop(200);

        const rows = await queuedJobs(database);
        assert.equal(rows.length, 2);
        for (const row of rows) {
          assert.equal(row.lease_token, null, `${row.name}: claim released`);
          assert.equal(row.attempts, 0, `${row.name}: the interrupted attempt is not counted`);
          assert.ok(row.run_at.getTime() <= clock.now().getTime(), `${row.name}: due now, not after a lease or a backoff`);
        }
        // Another process, same clock (no lease has run out): both run now.
        const other = queue();
        const ran: string[] = [];
        other.register("obedient", { handler: async () => void ran.push("obedient") });
        other.register("stubborn", { handler: async () => void ran.push("stubborn") });
        assert.deepEqual(await other.runDueJobs(), { succeeded: 2, retried: 0, failed: 0 });
        assert.deepEqual(ran.sort(), ["obedient", "stubborn"]);
        // The stubborn handler's late success matches no claim: it changes nothing.
        await new Promise((r) => setTimeout(r, 1500));
        assert.deepEqual(await queuedJobs(database), []);
      });
    });
  });
}
