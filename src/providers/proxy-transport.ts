import { Transform, type Readable } from "node:stream";
import { Agent, errors as undiciErrors } from "undici";

/**
 * The proxy's transport: one undici connection pool for every provider
 * call the proxy forwards, with bodies streamed both ways (never buffered
 * here) and a timeout on the provider's headers and on every body chunk.
 */

/** Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection and are never forwarded, either way. */
export const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer", "trailers", "transfer-encoding", "upgrade"]);

export type TransportFailure = "timeout" | "network";

export class TransportError extends Error {
  constructor(readonly failure: TransportFailure) {
    super(failure === "timeout" ? "the provider did not answer in time" : "the provider could not be reached");
    this.name = "TransportError";
  }
}

export interface TransportRequest {
  /** The provider's origin (scheme, host, port), and the path with its query. */
  origin: string;
  path: string;
  method: string;
  headers: Record<string, string | string[]>;
  body: Readable | Buffer | null;
}

export interface TransportResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** A stream that can also be read whole (undici's body: `arrayBuffer()` fails on a cut-short or stalled answer). */
  body: Readable & { arrayBuffer(): Promise<ArrayBuffer> };
}

export function createProxyTransport({ timeoutMs }: { timeoutMs: number }) {
  const agent = new Agent({ headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connectTimeout: Math.min(timeoutMs, 10_000), keepAliveTimeout: 10_000, connections: 256 });
  return {
    async send(req: TransportRequest): Promise<TransportResponse> {
      try {
        const res = await agent.request({
          origin: req.origin,
          path: req.path,
          method: req.method as "GET",
          headers: req.headers,
          body: req.body ?? undefined,
          // Never follow a redirect: the caller sees the provider's 3xx as it was.
          maxRedirections: 0,
        });
        return { status: res.statusCode, headers: res.headers, body: res.body };
      } catch (err) {
        throw new TransportError(isTimeout(err) ? "timeout" : "network");
      }
    },
    close: () => agent.close(),
  };
}

export type ProxyTransport = ReturnType<typeof createProxyTransport>;

export function isTimeout(err: unknown): boolean {
  return err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError;
}

const NONE: ReadonlySet<string> = new Set();

/** The header names a `Connection` header lists: hop-by-hop for this message too. */
export function connectionListed(value: string | string[] | undefined): ReadonlySet<string> {
  // No header, or the usual one: it lists nothing that is not hop-by-hop already (keep-alive is).
  if (value === undefined || value === "keep-alive" || value === "Keep-Alive") return NONE;
  const raw = Array.isArray(value) ? value.join(",") : value ?? "";
  return new Set(raw.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean));
}

/**
 * Passes bytes through, counting them; fails the stream once more than
 * `limit` have gone by (the rest is never read into memory).
 */
export function byteCounter(limit: number, onLimit: () => Error): Transform & { bytes: () => number } {
  let bytes = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      if (bytes > limit) return cb(onLimit());
      cb(null, chunk);
    },
  }) as Transform & { bytes: () => number };
  t.bytes = () => bytes;
  return t;
}
