import type { FastifyInstance } from "fastify";
import type { LogDestination } from "./logging.ts";

/**
 * How long each step of a shutdown may take. Requests and jobs wind down side
 * by side, then the database closes, then the logs get a last chance: at most
 * 5 + 2 + 1 s, and whatever still hangs is cut by the hard exit at 9 s, so the
 * process is gone within 10 s of SIGTERM or SIGINT in every case.
 */
export const SHUTDOWN_BOUNDS = { requestsMs: 5_000, jobsMs: 5_000, databaseMs: 2_000, logsMs: 1_000, hardExitMs: 9_000 };

export interface ShutdownDeps {
  app: FastifyInstance;
  /** Stops claiming jobs, waits up to graceMs for running ones, releases the claims of the rest. */
  stopJobs(graceMs: number): Promise<void>;
  closeDatabase(): Promise<void>;
  logs: LogDestination;
  /** Last step before exit (the embedded database's data-dir claim). */
  release(): void;
  bounds?: typeof SHUTDOWN_BOUNDS;
}

/**
 * Installs the SIGTERM / SIGINT handlers. The first signal starts a bounded
 * graceful stop; a second one exits at once. Nothing here waits without a
 * limit: not the requests in flight (their connections are cut at the
 * bound), not the jobs (their claims are released so another process takes
 * them at once), not the database, and not the log pipe (a reader that
 * stalled costs at most logsMs; the log destination never flushes
 * synchronously at exit).
 */
export function installShutdown(deps: ShutdownDeps): void {
  const bounds = deps.bounds ?? SHUTDOWN_BOUNDS;
  let stopping = false;

  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) {
      deps.app.log.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    // Unref'd: it never keeps a process alive, only ends one that hangs.
    setTimeout(() => process.exit(1), bounds.hardExitMs).unref();
    deps.app.log.info({ signal }, "shutting down");
    const started = Date.now();
    let code = 0;
    try {
      await Promise.all([closeServer(deps.app, bounds.requestsMs), deps.stopJobs(bounds.jobsMs)]);
      if (!(await within(deps.closeDatabase(), bounds.databaseMs))) deps.app.log.warn({ boundMs: bounds.databaseMs }, "the database did not close in time");
      deps.release();
      deps.app.log.info({ signal, durationMs: Date.now() - started }, "stopped");
    } catch (err) {
      code = 1;
      deps.app.log.error({ err }, "shutdown failed");
    }
    await deps.logs.flush(bounds.logsMs);
    process.exit(code);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

/**
 * Stops accepting connections and waits for the requests in flight; those
 * still running (or still being received) at the bound have their
 * connections cut.
 */
async function closeServer(app: FastifyInstance, boundMs: number): Promise<void> {
  const cut = setTimeout(() => {
    app.log.warn({ boundMs }, "requests still in flight at the shutdown bound: closing their connections");
    app.server.closeAllConnections();
  }, boundMs);
  try {
    await within(app.close(), boundMs + 500);
  } finally {
    clearTimeout(cut);
  }
}

/** Resolves true if the promise settled within ms, false otherwise (it is left to run). */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
