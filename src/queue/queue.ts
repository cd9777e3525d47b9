import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { sql, type RawBuilder } from "kysely";
import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import { outsideRequestTransaction } from "../db/request-transaction.ts";
import { isDatabaseUnavailable } from "../db/unavailable.ts";
import type { JobRecord } from "../db/schema.ts";
import { uuidv7 } from "../kernel/ids.ts";

/**
 * The background job queue: a PostgreSQL table that works the same on the
 * embedded database and on a shared PostgreSQL.
 *
 * - A worker claims due jobs with `FOR UPDATE SKIP LOCKED` in one UPDATE, so
 *   each job has exactly one claimant however many processes poll.
 * - The claim moves `run_at` to the end of a lease: if the worker dies, the
 *   job is simply due again when the lease runs out (at-least-once delivery;
 *   handlers must be idempotent).
 * - Completion is conditional on the claim's token, so a worker that outlived
 *   its lease cannot complete or reschedule a job someone else now holds.
 * - All times come from the injected clock, so tests move time by hand and
 *   call `runDueJobs()` instead of sleeping.
 */


/**
 * The SQL tail that inserts one `name` job per row of `from`, due at `runAt`
 * (job-types.ts's typed insertJobsFrom is its face for callers).
 */
export function insertJobsSelecting(
  name: string,
  { from, payload, runAt, maxAttempts }: { from: RawBuilder<unknown>; payload: RawBuilder<unknown>; runAt: Date; maxAttempts: number | RawBuilder<number> },
): RawBuilder<unknown> {
  return sql`
    insert into jobs (id, name, payload, run_at, max_attempts, created_at, updated_at)
    select gen_random_uuid(), ${name}, ${payload}, ${runAt}, ${maxAttempts}, ${runAt}, ${runAt}
    from ${from}`;
}

export interface JobContext {
  id: string;
  name: string;
  /** 1 on the first try. */
  attempt: number;
  maxAttempts: number;
  /** Aborted when the runner stops or the job's lease runs out. */
  signal: AbortSignal;
}

export type JobHandler<P> = (payload: P, ctx: JobContext) => Promise<void>;

export interface JobDefinition<P = unknown> {
  handler: JobHandler<P>;
  /** Tries before the job is marked failed (default 5). */
  maxAttempts?: number;
  /** How long a claim lasts before another worker may take the job over (default 60 s). */
  leaseMs?: number;
  /** Delay before retry number `attempt + 1` (default 1 s, doubling, at most 1 h). */
  backoffMs?: (attempt: number, payload: P) => number;
  /** Recurring: one row per name, rescheduled this long after each run, across all processes. */
  everyMs?: number;
  /**
   * When the worker of the final attempt vanished (its lease ran out), run the
   * handler once more instead of failing the job unseen: for handlers that
   * record their own outcome (a webhook delivery marks itself failed).
   */
  rerunLostFinalAttempt?: boolean;
}

export interface EnqueueOptions {
  /** Not before this time (default: now). */
  runAt?: Date;
  /** At most one queued job with this key; a second enqueue returns null. */
  singletonKey?: string;
  maxAttempts?: number;
}

export interface RunSummary {
  succeeded: number;
  retried: number;
  failed: number;
}

/** The subset of a pino logger the runner uses. */
export interface JobLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface JobQueueDeps {
  db: Database;
  clock: Clock;
  /** How often the worker loop looks for due jobs. */
  pollMs?: number;
  /** Jobs one process runs at the same time. */
  concurrency?: number;
}

const DEFAULT_MAX_ATTEMPTS = 5;
const DEFAULT_LEASE_MS = 60_000;
const MAX_ERROR_LENGTH = 2000;
/** How soon a job stopped by a database outage is due again (it keeps its attempts). */
const OUTAGE_RETRY_MS = 1000;

export function defaultBackoffMs(attempt: number): number {
  return Math.min(1000 * 2 ** (attempt - 1), 3_600_000);
}

const silentLog: JobLog = { info() {}, warn() {}, error() {} };

type Outcome = "succeeded" | "retried" | "failed";

export function createJobQueue({ db, clock, pollMs = 250, concurrency = 4 }: JobQueueDeps) {
  const definitions = new Map<string, JobDefinition<never>>();
  let schedulesEnsured = false;
  let log: JobLog = silentLog;

  // Worker-loop state (the guarantees live in the table; this is only pacing).
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<void> | null = null;
  let tickAgain = false;
  const active = new Set<Promise<unknown>>();
  /** The jobs this process holds a claim on, by id: what a stop releases. */
  const claimed = new Map<string, JobRecord>();
  let stopController = stopSignal();

  function definition(name: string): JobDefinition<never> {
    const def = definitions.get(name);
    if (!def) throw new Error(`No job handler is registered under the name "${name}".`);
    return def;
  }

  /** Inserts the one row of each recurring job, if no process has yet. */
  async function ensureSchedules(): Promise<void> {
    if (schedulesEnsured) return;
    const now = clock.now();
    for (const [name, def] of definitions) {
      if (def.everyMs === undefined) continue;
      await insertJob(db, name, {}, { singletonKey: recurringKey(name), runAt: now, maxAttempts: def.maxAttempts ?? DEFAULT_MAX_ATTEMPTS }, now);
    }
    schedulesEnsured = true;
  }

  async function insertJob(executor: Database, name: string, payload: unknown, opts: EnqueueOptions, now: Date): Promise<string | null> {
    const row = await executor
      .insertInto("jobs")
      .values({
        id: uuidv7(now),
        name,
        payload: JSON.stringify(payload ?? {}),
        run_at: opts.runAt ?? now,
        max_attempts: opts.maxAttempts ?? definition(name).maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
        singleton_key: opts.singletonKey ?? null,
        created_at: now,
        updated_at: now,
      })
      // The partial unique index's predicate as literals: PostgreSQL matches an ON CONFLICT target to a partial
      // index only by a predicate it can prove, which a parameter ($1 for 'queued') is not in a prepared
      // statement's generic plan (pg-driver.ts prepares statements).
      .onConflict((oc) => oc.column("singleton_key").where(sql<boolean>`state = 'queued' and singleton_key is not null`).doNothing())
      .returning("id")
      .executeTakeFirst();
    return row?.id ?? null;
  }

  /** Claims up to `limit` due jobs for this worker: one UPDATE, SKIP LOCKED. */
  async function claim(limit: number): Promise<JobRecord[]> {
    if (definitions.size === 0 || limit <= 0) return [];
    const now = clock.now();
    const names = [...definitions.keys()];
    const leaseEnd = sql<Date>`case ${sql.ref("name")} ${sql.join(
      names.map((n) => sql`when ${n} then ${new Date(now.getTime() + (definitions.get(n)!.leaseMs ?? DEFAULT_LEASE_MS))}::timestamptz`),
      sql` `,
    )} end`;
    return db
      .updateTable("jobs")
      .set({ run_at: leaseEnd, attempts: sql`attempts + 1`, lease_token: randomUUID(), claimed_at: now, updated_at: now })
      .where("id", "in", (qb) =>
        qb
          .selectFrom("jobs")
          .select("id")
          .where("state", "=", "queued")
          .where("run_at", "<=", now)
          // A process claims only what it can run (during a rolling upgrade, others may know more names).
          .where("name", "in", names)
          .orderBy("run_at")
          .limit(limit)
          .forUpdate()
          .skipLocked(),
      )
      .returningAll()
      .execute();
  }

  /** Runs one claimed job and records the outcome, guarded by its lease token. */
  async function execute(job: JobRecord): Promise<Outcome> {
    const def = definition(job.name);
    // An update of this job that applies only while this claim (its lease token) still holds it.
    const updateWhileClaimed = (qb: Database) => qb.updateTable("jobs").where("id", "=", job.id).where("lease_token", "=", job.lease_token);
    const release = { lease_token: null, claimed_at: null };
    let stoppedByRunner = false;

    if (job.attempts > job.max_attempts + (def.rerunLostFinalAttempt ? 1 : 0)) {
      // The final attempt's worker vanished: do not run it again.
      return finish(new Error("the worker running the final attempt stopped before finishing (lease expired)"));
    }

    const controller = new AbortController();
    const onStop = () => {
      stoppedByRunner = true;
      controller.abort(new Error("job runner stopping"));
    };
    stopController.signal.addEventListener("abort", onStop, { once: true });
    claimed.set(job.id, job);
    const leaseTimer = setTimeout(() => controller.abort(new Error("job lease expired")), def.leaseMs ?? DEFAULT_LEASE_MS);
    leaseTimer.unref?.();
    try {
      await def.handler(job.payload as never, { id: job.id, name: job.name, attempt: job.attempts, maxAttempts: job.max_attempts, signal: controller.signal });
      return await finish(null);
    } catch (err) {
      return await finish(err);
    } finally {
      clearTimeout(leaseTimer);
      stopController.signal.removeEventListener("abort", onStop);
      claimed.delete(job.id);
    }

    async function finish(err: unknown): Promise<Outcome> {
      // Interrupted by this process stopping, not failed: another process may run it at once.
      if (err !== null && stoppedByRunner) {
        await releaseClaim(job);
        return "retried";
      }
      const now = clock.now();
      const lastError = err === null ? null : errorText(err);
      if (def.everyMs !== undefined) {
        // A recurring job's row lives on: success or not, it is next due one interval from now.
        await updateWhileClaimed(db)
          .set({ ...release, run_at: new Date(now.getTime() + def.everyMs), attempts: 0, last_error: lastError, updated_at: now })
          .execute();
        if (err !== null) log.error({ job: job.name, jobId: job.id, error: lastError }, "recurring job failed");
        return err === null ? "succeeded" : "failed";
      }
      if (err === null) {
        await db.deleteFrom("jobs").where("id", "=", job.id).where("lease_token", "=", job.lease_token).execute();
        return "succeeded";
      }
      if (isDatabaseUnavailable(err)) {
        // The job did not fail, the database went away under it: try again soon, without spending an attempt.
        await updateWhileClaimed(db)
          .set({ ...release, attempts: sql`attempts - 1`, run_at: new Date(now.getTime() + OUTAGE_RETRY_MS), last_error: lastError, updated_at: now })
          .execute();
        log.warn({ job: job.name, jobId: job.id, retryInMs: OUTAGE_RETRY_MS, error: lastError }, "job stopped by a database outage; will retry");
        return "retried";
      }
      if (job.attempts >= job.max_attempts) {
        await updateWhileClaimed(db).set({ ...release, state: "failed", last_error: lastError, updated_at: now }).execute();
        log.error({ job: job.name, jobId: job.id, attempts: job.attempts, error: lastError }, "job failed for good");
        return "failed";
      }
      const delay = def.backoffMs ? def.backoffMs(job.attempts, job.payload as never) : defaultBackoffMs(job.attempts);
      await updateWhileClaimed(db)
        .set({ ...release, run_at: new Date(now.getTime() + delay), last_error: lastError, updated_at: now })
        .execute();
      log.warn({ job: job.name, jobId: job.id, attempt: job.attempts, retryInMs: delay, error: lastError }, "job failed; will retry");
      return "retried";
    }
  }

  /**
   * Gives a claimed job back: due now, its interrupted attempt not counted,
   * so another process takes it over without waiting for the lease. Guarded
   * by the claim's token like every outcome.
   */
  async function releaseClaim(job: JobRecord): Promise<void> {
    const now = clock.now();
    await db
      .updateTable("jobs")
      .set({ lease_token: null, claimed_at: null, run_at: now, attempts: sql`greatest(attempts - 1, 0)`, updated_at: now })
      .where("id", "=", job.id)
      .where("lease_token", "=", job.lease_token)
      .execute();
  }

  /** One poll: claim what this process has room for and start it. Never two at once. */
  function tick(): void {
    if (!running) return;
    if (polling) {
      tickAgain = true;
      return;
    }
    clearTimeout(timer);
    polling = poll().finally(() => {
      polling = null;
      if (!running) return;
      if (tickAgain) {
        tickAgain = false;
        setImmediate(tick);
      } else {
        timer = setTimeout(tick, pollMs);
        timer.unref?.();
      }
    });
  }

  async function poll(): Promise<void> {
    try {
      await ensureSchedules();
      const jobs = await claim(concurrency - active.size);
      if (!running) {
        // stop() came while this claim was in flight: give the jobs straight back.
        await Promise.all(jobs.map(releaseClaim));
        return;
      }
      for (const job of jobs) {
        const p = execute(job)
          .catch((err) => log.error({ job: job.name, jobId: job.id, error: errorText(err) }, "could not record a job's outcome"))
          .finally(() => {
            active.delete(p);
            // A slot came free: look for more work at once rather than at the next poll.
            wake();
          });
        active.add(p);
      }
      if (jobs.length > 0 && active.size < concurrency) tickAgain = true;
    } catch (err) {
      log.warn({ error: errorText(err) }, "job runner could not poll the queue");
    }
  }

  function wake(delayMs = 0): void {
    if (!running) return;
    // enqueue() is often called inside a request's transaction: the runner's polls must not inherit it
    // (they would keep using it after it ended, and every later poll would fail).
    outsideRequestTransaction(() => {
      if (delayMs === 0) tick();
      else setTimeout(tick, delayMs).unref?.();
    });
  }

  return {
    /** Names a job and how it runs; a recurring job (everyMs) is scheduled on the first run. */
    register<P>(name: string, def: JobDefinition<P>): void {
      if (definitions.has(name)) throw new Error(`A job handler named "${name}" is already registered.`);
      definitions.set(name, def as JobDefinition<never>);
      schedulesEnsured = false;
    },

    /**
     * Queues a job. Pass the caller's transaction to make the job part of it:
     * it runs only if that transaction commits. Returns the job id, or null
     * when a queued job already holds `singletonKey`.
     */
    async enqueue<P>(executor: Database, name: string, payload: P, opts: EnqueueOptions = {}): Promise<string | null> {
      definition(name);
      const id = await insertJob(executor, name, payload, opts, clock.now());
      // Inside a transaction the row is not visible until the caller commits; the poll
      // would find it anyway, a short delayed wake usually finds it sooner.
      if (id !== null) wake(executor.isTransaction ? 25 : 0);
      return id;
    },

    /**
     * Runs every job that is due now, to completion, including jobs those jobs
     * queue. For tests and one-shot tools; servers use start()/stop().
     */
    async runDueJobs({ batchSize = 50 }: { batchSize?: number } = {}): Promise<RunSummary> {
      await ensureSchedules();
      const summary: RunSummary = { succeeded: 0, retried: 0, failed: 0 };
      for (let round = 0; round < 10_000; round++) {
        const jobs = await claim(batchSize);
        if (jobs.length === 0) break;
        for (const outcome of await Promise.all(jobs.map(execute))) summary[outcome] += 1;
      }
      return summary;
    },

    /** The registered job names, in registration order. */
    names(): string[] {
      return [...definitions.keys()];
    },

    /** Whether this process's worker loop is running (readiness). */
    get running(): boolean {
      return running;
    },

    /**
     * Queued jobs per name: how many, how long the oldest due one is past its
     * run time, and the age of the oldest (since it was queued). For
     * /metrics, at scrape time; a scan of the jobs_due_idx partial index.
     */
    async queueStats(): Promise<Array<{ name: string; depth: number; oldestDueSeconds: number; oldestAgeSeconds: number }>> {
      const now = clock.now();
      const { rows } = await sql<{ name: string; depth: string; oldest_due: number | null; oldest_age: number | null }>`
        select name, count(*) as depth,
               extract(epoch from (${now}::timestamptz - min(run_at) filter (where run_at <= ${now}::timestamptz)))::float8 as oldest_due,
               extract(epoch from (${now}::timestamptz - min(created_at)))::float8 as oldest_age
        from jobs where state = 'queued' group by name order by name`.execute(db);
      return rows.map((r) => ({ name: r.name, depth: Number(r.depth), oldestDueSeconds: Math.max(0, r.oldest_due ?? 0), oldestAgeSeconds: Math.max(0, r.oldest_age ?? 0) }));
    },

    /** Starts the worker loop: polls every pollMs, and at once when this process queues a job. */
    start(logger: JobLog = silentLog): void {
      if (running) return;
      log = logger;
      running = true;
      stopController = stopSignal();
      tick();
    },

    /**
     * Stops claiming, asks running handlers to stop, and waits for them (up to
     * graceMs). Jobs interrupted by the stop, and those still running at the
     * bound, are released: another process can take them at once.
     */
    async stop(graceMs = 10_000): Promise<void> {
      if (!running) return;
      running = false;
      clearTimeout(timer);
      stopController.abort();
      const grace = new Promise((resolve) => setTimeout(resolve, graceMs).unref?.());
      // A poll in flight may still claim jobs: let it, so they are among those waited for.
      await Promise.race([(async () => {
        await polling;
        await Promise.allSettled([...active]);
      })(), grace]);
      // Still running past the bound: their outcome, if it ever comes, no longer matches the claim.
      await Promise.allSettled([...claimed.values()].map(releaseClaim));
    },

    /** Jobs that ran out of attempts, newest first (for operators and tests). */
    async failedJobs(limit = 100): Promise<JobRecord[]> {
      return db.selectFrom("jobs").selectAll().where("state", "=", "failed").orderBy("updated_at", "desc").limit(limit).execute();
    },
  };
}

export type JobQueue = ReturnType<typeof createJobQueue>;

/** The runner's stop signal: every running job listens to it, so it has no listener limit (batches run 50 at once). */
function stopSignal(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

function recurringKey(name: string): string {
  return `every:${name}`;
}

/** An error's message, kept short. Handlers must not put secrets in error messages. */
function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH)}…` : text;
}
