import { LogController, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from "fastify";

/** Query parameters whose values are credentials or one-time codes: never logged. */
const SECRET_QUERY_PARAMS = /^(connection_token|link_token|token|code|hmac|state|signature|key|api_key|access_token|refresh_token|password|secret)$/i;

/** The URL as logged: path kept, secret query values replaced. */
export function redactUrl(url: string): string {
  const q = url.indexOf("?");
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const name of [...params.keys()]) if (SECRET_QUERY_PARAMS.test(name)) params.set(name, "[REDACTED]");
  return `${url.slice(0, q)}?${params.toString()}`;
}

/**
 * pino options for the server. Requests are logged by method, redacted URL
 * and id, never headers or bodies; the redact list is a second net for any
 * object that a log call passes by mistake.
 */
export function loggerOptions(level: string, stream?: NodeJS.WritableStream): FastifyServerOptions["logger"] {
  return {
    level,
    ...(stream ? { stream } : {}),
    redact: {
      paths: [
        "req.headers.authorization",
        'req.headers["x-api-key"]',
        "req.headers.cookie",
        "*.password",
        "*.secret",
        "*.key",
        "*.api_key",
        "*.access_token",
        "*.refresh_token",
        "*.token",
        "*.credentials",
        "*.client_secret",
      ],
      censor: "[REDACTED]",
    },
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
