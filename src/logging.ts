import { LogController, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from "fastify";
import { prettyFactory } from "pino-pretty";
import { isSecretParam } from "./kernel/secret-params.ts";


/** The URL as logged: path kept, secret query values replaced. */
export function redactUrl(url: string): string {
  // A connector's inbound webhook token is the last path segment of its URL.
  if (url.startsWith("/v1/webhooks-in/")) url = url.replace(/^(\/v1\/webhooks-in\/[^/?]*\/)[^/?]*/, "$1[REDACTED]");
  const q = url.indexOf("?");
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  // Query values that are credentials or one-time codes (kernel/secret-params.ts: the one list of the logs).
  for (const name of [...params.keys()]) if (isSecretParam(name)) params.set(name, "[REDACTED]");
  return `${url.slice(0, q)}?${params.toString()}`;
}

/** Anything log lines can be written to. */
export interface LogSink {
  write(line: string): unknown;
}

/**
 * Field names whose values never reach a log line: at the top of a log call's
 * object or one level down (`{ connector: { credentials } }`), a second net
 * behind the serializers. Header names are here for a `headers` object passed
 * by mistake.
 */
const SECRET_FIELDS = new Set(["password", "secret", "key", "api_key", "access_token", "refresh_token", "token", "credentials", "client_secret", "authorization", "cookie", "x-api-key"]);
/** Fields pino's serializers below reduce to values that carry no secret (method, redacted URL, id; status). */
const SERIALIZED = new Set(["req", "res"]);

/**
 * A log call's object with secret-named fields' values replaced by
 * [REDACTED] (copied only when one is found). Done here rather than by pino's
 * `redact` wildcards, which cost about 11 µs on every request's log line
 * (measured: 12.9 µs against 2.2 µs per line) for objects that, after the
 * serializers, never hold a secret.
 */
export function redactLogFields(obj: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const k in obj) {
    if (SERIALIZED.has(k)) continue;
    if (SECRET_FIELDS.has(k)) {
      (out ??= { ...obj })[k] = "[REDACTED]";
      continue;
    }
    const v = obj[k];
    if (v === null || typeof v !== "object" || Array.isArray(v)) continue;
    let inner: Record<string, unknown> | null = null;
    // An error's message and stack are not own enumerable fields: a copy keeps them by name.
    const copy = (): Record<string, unknown> => (v instanceof Error ? { ...v, type: v.name, message: v.message, stack: v.stack } : { ...(v as Record<string, unknown>) });
    for (const c in v) if (SECRET_FIELDS.has(c)) (inner ??= copy())[c] = "[REDACTED]";
    if (inner) (out ??= { ...obj })[k] = inner;
  }
  return out ?? obj;
}

/**
 * pino options for the server. Requests are logged by method, redacted URL
 * and id, never headers or bodies; `redactLogFields` is a second net for any
 * object that a log call passes by mistake.
 */
export function loggerOptions(level: string, stream?: LogSink): FastifyServerOptions["logger"] {
  return {
    level,
    ...(stream ? { stream } : {}),
    formatters: { log: redactLogFields },
    serializers: {
      req: (req: { method: string; url: string; id: string }) => ({ method: req.method, url: redactUrl(req.url), id: req.id }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  } as FastifyServerOptions["logger"];
}

/**
 * One log line per request, when it completes: method, redacted URL, status,
 * time and id. Fastify's default writes two (incoming + completed), and at
 * info level formatting, redacting and writing them was about a tenth of a
 * GET's CPU (BENCHMARKS.md); the completed line alone carries everything.
 */
export class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, "request errored");
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, "request completed");
  }
}

/** What the logs are written to: a bounded, never-blocking stdout. */
export interface LogDestination extends LogSink {
  /** Resolves true once every buffered line is written, false if the pipe did not take them within timeoutMs. */
  flush(timeoutMs: number): Promise<boolean>;
  /** Lines dropped because the reader fell more than maxBufferedBytes behind. */
  readonly dropped: number;
}

/**
 * Log lines go to stdout through Node's own asynchronous pipe writes, not
 * pino's default SonicBoom destination: on exit that one flushes
 * synchronously, and when nobody reads the pipe (a parent that died, a full
 * journald or container log buffer) `flushSync` spins forever and the process
 * never exits (issue 13). Here a stalled reader costs at most
 * maxBufferedBytes of memory, after which lines are dropped and counted;
 * `flush` waits for the pipe only as long as the caller allows, and whatever
 * is still buffered at exit is lost rather than waited for.
 *
 * The lines of one event-loop turn go out as one write (a system call each
 * is most of a line's cost under load): they are handed to the pipe at the
 * end of the turn, by `flush`, or when the process exits.
 */
export function createLogDestination(out: NodeJS.WritableStream & { writableLength: number } = process.stdout, maxBufferedBytes = 16 * 1024 * 1024): LogDestination {
  let dropped = 0;
  let turn: string[] = [];
  let turnBytes = 0;
  let scheduled = false;
  const handOver = (): void => {
    scheduled = false;
    if (turn.length === 0) return;
    const chunk = turn.length === 1 ? turn[0]! : turn.join("");
    turn = [];
    turnBytes = 0;
    out.write(chunk);
  };
  // A reader that closed its end (EPIPE) must not take the process down.
  out.on("error", () => {});
  onExit(handOver);
  return {
    write(line: string): boolean {
      if (out.writableLength + turnBytes > maxBufferedBytes) {
        dropped += 1;
        return true;
      }
      turn.push(line);
      turnBytes += line.length;
      if (!scheduled) {
        scheduled = true;
        setImmediate(handOver);
      }
      return true;
    },
    async flush(timeoutMs: number): Promise<boolean> {
      handOver();
      // 'drain' fires only after a write was refused, so watch the buffer instead.
      const deadline = Date.now() + timeoutMs;
      while (out.writableLength > 0) {
        if (Date.now() >= deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return true;
    },
    get dropped() {
      return dropped;
    },
  };
}

/** process.exit() right after a fatal line: each destination's waiting lines are handed over (Node writes what the pipe takes at once). */
const atExit: Array<() => void> = [];
function onExit(fn: () => void): void {
  if (atExit.length === 0) process.once("exit", () => atExit.forEach((f) => f()));
  atExit.push(fn);
}

/** Whether log lines are formatted for a person (LOG_FORMAT, or a terminal on stdout). */
export function wantsPrettyLogs(format: "auto" | "json" | "pretty", out: { isTTY?: boolean } = process.stdout): boolean {
  return format === "pretty" || (format === "auto" && out.isTTY === true);
}

/**
 * The same destination with each JSON line rewritten for a person (time,
 * level, message, then the fields), colourised on a terminal. pino-pretty's
 * formatter runs synchronously in the write; its stream and transport modes
 * are not used, so nothing is buffered or flushed here and the destination
 * keeps its never-blocking, never-hang-on-exit behaviour.
 */
export function prettyLogDestination(dest: LogDestination, colorize: boolean): LogDestination {
  const format = prettyFactory({ colorize, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname", singleLine: true });
  return {
    write: (line: string) => dest.write(format(line)),
    flush: (timeoutMs: number) => dest.flush(timeoutMs),
    get dropped() {
      return dest.dropped;
    },
  };
}
