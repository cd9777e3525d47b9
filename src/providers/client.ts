import type { Config } from "../config.ts";
import { failedCallDetail, redactQuery, type CallContext, type CallRecorder } from "./call-log.ts";
import { providerBaseUrl } from "./base-urls.ts";

export interface ProviderRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD";
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** JSON body (object) or a form body (URLSearchParams). */
  body?: unknown;
  /** Per-call target: sandbox origin, or the Shopify shop domain. */
  mode?: "sandbox" | "live";
  shop?: string;
  /** Retry 429/5xx/network failures? Default: only for idempotent methods. */
  retry?: boolean;
  timeoutMs?: number;
  /** The connector the call is made for: each attempt goes into its provider-call log. */
  context?: CallContext;
}

export interface ProviderResponse {
  status: number;
  headers: Headers;
  text: string;
  json<T = unknown>(): T;
}

/** timeout: no answer in time; network: no connection; bad_answer: a 5xx or an answer that cannot be read. */
export type ProviderFailure = "timeout" | "network" | "bad_answer";

/**
 * A provider could not be reached at all (the client returns any HTTP
 * answer as a response; adapters raise `bad_answer` for a 5xx or an
 * unreadable body). The message names the provider and the kind of
 * failure, never a URL query, header or body.
 */
export class ProviderError extends Error {
  constructor(
    readonly provider: string,
    readonly failure: ProviderFailure,
  ) {
    super(
      failure === "timeout"
        ? `${provider} did not answer in time`
        : failure === "network"
          ? `${provider} could not be reached`
          : `${provider} answered with a server error or an unreadable response`,
    );
    this.name = "ProviderError";
  }
}

/** What the client needs of a logger (pino's satisfies it). */
export interface ProviderLogger {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
}

export interface ProviderClientDeps {
  config: Pick<Config, "providerUrls">;
  logger: ProviderLogger;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Attempts for a retryable call (first try included). */
  maxAttempts?: number;
  defaultTimeoutMs?: number;
  /** Where calls made for a connector are recorded (the provider-call log). */
  callLog?: CallRecorder;
}

const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE"]);

/**
 * The one way Patchbay calls a provider: base URL from config, a timeout on
 * every call, bounded retries with exponential backoff (honouring
 * Retry-After) on 429/5xx/network failures, and a log line per attempt that
 * carries provider, method, path, status and latency — nothing else.
 */
export function createProviderClient({ config, logger, fetch: fetchImpl = fetch, sleep = defaultSleep, maxAttempts = 3, defaultTimeoutMs = 10_000, callLog }: ProviderClientDeps) {
  return {
    async request(provider: string, req: ProviderRequest): Promise<ProviderResponse> {
      const url = new URL(req.path, providerBaseUrl(config, provider, { mode: req.mode, shop: req.shop }));
      for (const [k, v] of Object.entries(req.query ?? {})) url.searchParams.set(k, v);
      const headers: Record<string, string> = { accept: "application/json", "user-agent": "patchbay/0.1", ...req.headers };
      let body: string | undefined;
      if (req.body instanceof URLSearchParams) {
        body = req.body.toString();
        headers["content-type"] ??= "application/x-www-form-urlencoded";
      } else if (req.body !== undefined) {
        body = JSON.stringify(req.body);
        headers["content-type"] ??= "application/json";
      }
      const retryable = req.retry ?? IDEMPOTENT.has(req.method);
      const loggedPath = redactQuery(url.pathname + url.search);
      const bytesSent = body === undefined ? 0 : Buffer.byteLength(body);
      const record = (status: number | null, started: number, bytesReceived: number, errorClass: string | null, res?: { headers: Headers; text: string }) =>
        req.context &&
        callLog?.record(req.context, {
          method: req.method,
          path: loggedPath,
          status,
          latencyMs: performance.now() - started,
          bytesSent,
          bytesReceived,
          errorClass,
          // A failed call's exchange, redacted, for a shop integration's exception log.
          ...(status === null || status >= 400 ? { detail: failedCallDetail(url.origin + loggedPath, Object.entries(headers), res ?? null, sentValues(req.body)) } : {}),
        });
      const attempts = retryable ? maxAttempts : 1;

      for (let attempt = 1; ; attempt++) {
        const started = performance.now();
        let res: Response;
        try {
          res = await fetchImpl(url, { method: req.method, headers, body, signal: AbortSignal.timeout(req.timeoutMs ?? defaultTimeoutMs), redirect: "manual" });
        } catch (err) {
          const failure: ProviderFailure = (err as Error).name === "TimeoutError" ? "timeout" : "network";
          logger.warn({ provider, method: req.method, path: url.pathname, failure, attempt, ms: Math.round(performance.now() - started) }, "provider call failed");
          await record(null, started, 0, failure);
          if (attempt >= attempts) throw new ProviderError(provider, failure);
          await sleep(backoff(attempt, null));
          continue;
        }
        const text = await res.text();
        const ms = Math.round(performance.now() - started);
        logger.info({ provider, method: req.method, path: url.pathname, status: res.status, attempt, ms }, "provider call");
        await record(res.status, started, Buffer.byteLength(text), null, { headers: res.headers, text });
        if ((res.status === 429 || res.status >= 500) && attempt < attempts) {
          await sleep(backoff(attempt, res.headers.get("retry-after")));
          continue;
        }
        return {
          status: res.status,
          headers: res.headers,
          text,
          json<T>() {
            return JSON.parse(text) as T;
          },
        };
      }
    },
  };
}

export type ProviderClient = ReturnType<typeof createProviderClient>;

/** 200 ms, 400 ms, 800 ms … (± 20 % jitter), or the provider's Retry-After up to 10 s. */
function backoff(attempt: number, retryAfter: string | null): number {
  const seconds = retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) : null;
  if (seconds !== null) return Math.min(seconds * 1000, 10_000);
  const base = 200 * 2 ** (attempt - 1);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** The values a request body carried (form fields, JSON strings): a failed call's logged answer must not echo them. */
function sentValues(body: unknown): string[] {
  if (body instanceof URLSearchParams) return [...body.values()];
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === "string") out.push(v);
    else if (v !== null && typeof v === "object") for (const x of Object.values(v)) walk(x);
  };
  walk(body);
  return out;
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
