import http from "node:http";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { bareHost, isNonPublicAddress, type ResolveHost } from "./webhook-address.ts";

/**
 * POSTs one webhook. Not the provider client (src/providers/client.ts): a
 * webhook goes to a URL the entity chose, not a configured provider base URL;
 * the job queue does the retrying (over hours, not within the call); and the
 * address must be checked at the moment of connecting. So: node:http(s) with
 * a lookup of our own, which resolves the host, refuses a non-public address
 * (unless allowed) and hands the socket exactly the address it checked — a
 * DNS answer that changes between check and connect cannot slip through.
 * Redirects are not followed; the receiver's answer is read and thrown away.
 */

export interface WebhookRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
}

export interface WebhookResult {
  /** The receiver's HTTP status, or null when there was no answer. */
  statusCode: number | null;
  latencyMs: number;
  /** Short and free of secrets: never the receiver's body, headers or the URL. */
  error: string | null;
}

export interface WebhookSenderDeps {
  allowPrivate: boolean;
  resolveHost: ResolveHost;
  timeoutMs: number;
}

class AddressRefused extends Error {
  constructor() {
    super("address refused: the host resolves to a private, loopback or link-local address");
  }
}

export function createWebhookSender({ allowPrivate, resolveHost, timeoutMs }: WebhookSenderDeps) {
  const checkedLookup: LookupFunction = (hostname, options, callback) => {
    resolveHost(hostname).then(
      (found) => {
        const usable = found.filter((a) => options.family === undefined || options.family === 0 || a.family === options.family);
        if (usable.length === 0) return callback(Object.assign(new Error("host not found"), { code: "ENOTFOUND" }), "", 0);
        if (!allowPrivate && usable.some((a) => isNonPublicAddress(a.address))) return callback(new AddressRefused(), "", 0);
        if (options.all) return (callback as unknown as (e: null, a: typeof usable) => void)(null, usable);
        callback(null, usable[0]!.address, usable[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, "", 0),
    );
  };

  return async function sendWebhook(req: WebhookRequest, signal?: AbortSignal): Promise<WebhookResult> {
    const started = performance.now();
    const done = (statusCode: number | null, error: string | null): WebhookResult => ({ statusCode, latencyMs: Math.round(performance.now() - started), error });
    const url = new URL(req.url);
    const host = bareHost(url);
    if (!allowPrivate && isIP(host) !== 0 && isNonPublicAddress(host)) return done(null, new AddressRefused().message);

    const transport = url.protocol === "https:" ? https : http;
    return new Promise<WebhookResult>((resolve) => {
      const request = transport.request(
        url,
        {
          method: "POST",
          headers: { ...req.headers, "content-length": String(Buffer.byteLength(req.body)) },
          lookup: checkedLookup,
          timeout: timeoutMs,
          signal,
          agent: false,
        },
        (res) => {
          // The answer's body is never read into memory, logged or stored.
          res.resume();
          res.on("end", () => resolve(done(res.statusCode ?? null, describeStatus(res.statusCode ?? 0))));
          res.on("error", () => resolve(done(res.statusCode ?? null, describeStatus(res.statusCode ?? 0))));
          res.on("close", () => resolve(done(res.statusCode ?? null, describeStatus(res.statusCode ?? 0))));
        },
      );
      const deadline = setTimeout(() => request.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })), timeoutMs);
      request.on("timeout", () => request.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })));
      request.on("error", (err) => resolve(done(null, describeError(err, timeoutMs))));
      request.on("close", () => clearTimeout(deadline));
      request.end(req.body);
    });
  };
}

export type SendWebhook = ReturnType<typeof createWebhookSender>;

function describeStatus(status: number): string | null {
  if (status >= 200 && status < 300) return null;
  if (status >= 300 && status < 400) return `receiver answered ${status} (redirects are not followed)`;
  return `receiver answered ${status}`;
}

function describeError(err: Error & { code?: string }, timeoutMs: number): string {
  if (err instanceof AddressRefused) return err.message;
  switch (err.code) {
    case "ETIMEDOUT":
      return `no answer within ${timeoutMs / 1000} s`;
    case "ECONNREFUSED":
      return "connection refused";
    case "ECONNRESET":
      return "connection reset";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host not found";
    case "ABORT_ERR":
      return "delivery interrupted (the worker stopped)";
    default:
      if (err.code?.startsWith("ERR_TLS") || /certificate|ssl|tls/i.test(err.message)) return "TLS handshake failed";
      return `could not deliver (${err.code ?? "network error"})`;
  }
}
