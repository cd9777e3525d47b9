import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { DomainError } from "../kernel/errors.ts";

/**
 * The embedded database is one session (pglite-dialect.ts): every statement
 * of every request waits its turn on it. Left alone, 50 busy connections all
 * sat in that line at once, each request re-queueing behind the others for
 * each of its statements: PATCH p99 5.5 s and 288 MB of RSS (BENCHMARKS.md).
 *
 * Instead, requests are admitted: at most `concurrency` run at a time
 * (enough to overlap one request's JavaScript with another's statement),
 * up to `queueLimit` more wait in arrival order, and any beyond that are
 * answered at once, before a byte of them reaches the database: 503 in the
 * path's surface shape with Retry-After (EmbeddedBusyError). A waiting
 * request that is not admitted within `maxWaitMs` gets the same answer, so
 * no request waits without bound. A slot is freed when the response has
 * gone out or the client went away.
 */
export interface EmbeddedAdmissionOptions {
  /** Requests running at once (default 4). */
  concurrency?: number;
  /** Requests waiting for a slot at most (PATCHBAY_EMBEDDED_QUEUE_LIMIT). */
  queueLimit: number;
  /** The longest a request waits for a slot before its 503 (PATCHBAY_EMBEDDED_MAX_WAIT_MS, default 500 ms). */
  maxWaitMs?: number;
}

/** How long a refused client is told to wait (Retry-After). */
export const BUSY_RETRY_AFTER_SECONDS = 1;

/** Answered by every surface as 503 service_unavailable, in its own shape, with Retry-After. */
export class EmbeddedBusyError extends DomainError {
  constructor() {
    super("unavailable", "service_unavailable", "The server is busy: too many requests are waiting for its embedded database.", {
      hint: `Nothing was changed. Retry after ${BUSY_RETRY_AFTER_SECONDS} s (Retry-After).`,
      meta: { retry_after: BUSY_RETRY_AFTER_SECONDS },
    });
  }
}

interface Waiter {
  admit(release: () => void): void;
  refuse(): void;
  timer: NodeJS.Timeout;
  /** When it joined the line (performance.now()). */
  since: number;
}

export class EmbeddedAdmission {
  readonly concurrency: number;
  readonly queueLimit: number;
  readonly maxWaitMs: number;
  private running = 0;
  private readonly waiting: Waiter[] = [];
  /** Requests refused since start (503). */
  refused = 0;

  constructor(opts: EmbeddedAdmissionOptions) {
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.queueLimit = Math.max(0, opts.queueLimit);
    this.maxWaitMs = opts.maxWaitMs ?? 500;
  }

  /** Requests running and waiting now. */
  stats(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /**
   * Resolves with the slot's release once admitted; throws EmbeddedBusyError
   * at once when the line is full, or after maxWaitMs in it. `onGone` is
   * handed what to run if the client leaves while waiting.
   */
  enter(onGone: (leave: () => void) => void): Promise<() => void> {
    if (this.running < this.concurrency && this.waiting.length === 0) return Promise.resolve(this.take());
    if (this.waiting.length >= this.queueLimit) {
      this.refused++;
      return Promise.reject(new EmbeddedBusyError());
    }
    return new Promise<() => void>((resolve, reject) => {
      const waiter: Waiter = {
        admit: (release) => {
          clearTimeout(waiter.timer);
          resolve(release);
        },
        refuse: () => {
          clearTimeout(waiter.timer);
          this.refused++;
          reject(new EmbeddedBusyError());
        },
        timer: setTimeout(() => {
          if (this.remove(waiter)) waiter.refuse();
        }, this.maxWaitMs),
        since: performance.now(),
      };
      this.waiting.push(waiter);
      onGone(() => {
        if (this.remove(waiter)) {
          clearTimeout(waiter.timer);
          reject(new EmbeddedBusyError());
        }
      });
    });
  }

  /** A slot taken now, and its release (once only), which hands the slot to the next in line. */
  private take(): () => void {
    this.running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      // The bound holds even when its timer is late: PGlite runs statements synchronously, and a busy stretch of
      // them can hold the event loop past a timer's time. A waiter past it is refused here rather than run.
      const now = performance.now();
      for (let next = this.waiting.shift(); next; next = this.waiting.shift()) {
        if (now - next.since > this.maxWaitMs) {
          next.refuse();
          continue;
        }
        next.admit(this.take());
        break;
      }
    };
  }

  private remove(waiter: Waiter): boolean {
    const i = this.waiting.indexOf(waiter);
    if (i < 0) return false;
    this.waiting.splice(i, 1);
    return true;
  }
}

/** Paths that never wait for a slot: the probes and the metrics, which must answer while the server is busy. */
const EXEMPT = /^\/(livez|readyz|healthz|metrics)(\/|\?|$)/;

/**
 * Installs the admission on every request but the probes (an onRequest hook
 * of the root, so it runs before authentication touches the database).
 * A refusal is thrown: the root's error handler answers it in the path's
 * surface shape (errors-by-path.ts).
 */
export function useEmbeddedAdmission(app: FastifyInstance, admission: EmbeddedAdmission): void {
  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    if (EXEMPT.test(request.url)) return;
    const raw = reply.raw;
    const release = await admission.enter((leave) => raw.once("close", leave));
    // PGlite runs each statement synchronously and a request's statements follow one another in
    // microtasks: without this yield a request ran start to finish before the event loop read
    // the next socket, so the line formed in the kernel's socket buffers, unseen and unbounded.
    // Yielding once lets every request that has arrived be counted here first.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (raw.writableFinished || raw.destroyed) return release();
    raw.once("finish", release);
    raw.once("close", release);
  });
}
