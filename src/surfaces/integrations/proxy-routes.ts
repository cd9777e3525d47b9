import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { v1Hint } from "./errors.ts";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { ConnectorType } from "../../catalog/index.ts";
import type { Services } from "../../compose.ts";
import { flatErrorBody, sendFlatError } from "../shared/flat-errors.ts";
import { normalizeError } from "../shared/http-errors.ts";
import { StringEnum } from "../shared/schema-types.ts";
import { ListOf, listEnvelope, PageQuery, pageOptions } from "../shared/list-page.ts";
import { ConnectorTypeParams, errorResponses } from "./schemas.ts";

/** Proxy codes whose status is not their kind's default. */
const PROXY_STATUS: Record<string, number> = {
  proxy_body_too_large: 413,
  proxy_timeout: 504,
};

/** Every answer Patchbay itself gives on a proxy route carries this header: the provider's own answers never do. */
function sendProxyError(request: FastifyRequest, reply: FastifyReply, err: unknown) {
  reply.header("patchbay-proxy-error", "true");
  const e = normalizeError(err, v1Hint);
  // The provider path is the route's only parameter besides the type: a path the validator refuses (a NUL, a control character) is a refused path.
  if (e.code === "validation_failed" && e.location === "params" && e.violations.some((v) => v.param === "*")) {
    return reply.status(400).send(flatErrorBody({ ...e, code: "proxy_path_refused", message: "The path holds a control character or a NUL.", param: undefined }, request.id));
  }
  const status = PROXY_STATUS[e.code];
  if (status === undefined) return sendFlatError(request, reply, err);
  return reply.status(status).send(flatErrorBody({ ...e, status }, request.id));
}

const ProxyParams = Type.Object({
  connector_type: ConnectorTypeParams.properties.connector_type,
  "*": Type.String({ description: "The provider path, e.g. v1/charges for Stripe." }),
});

const ProviderCall = Type.Object({
  id: Type.String({ format: "uuid" }),
  object: Type.Literal("provider_call"),
  connector_id: Type.String({ format: "uuid" }),
  connector_type: Type.String(),
  purpose: StringEnum(["proxy", "verify", "health_check", "token_mint", "token_refresh"] as const),
  method: Type.String(),
  path: Type.String({ description: "Provider path and query; secret query values are [redacted]." }),
  status: Type.Union([Type.Integer(), Type.Null()], { description: "The provider's HTTP status; null when no answer came." }),
  latency_ms: Type.Integer(),
  bytes_sent: Type.Integer(),
  bytes_received: Type.Integer(),
  error_class: Type.Union([Type.String(), Type.Null()], { description: "timeout, network, too_large, aborted, or null." }),
  request_id: Type.Union([Type.String(), Type.Null()], { description: "The Patchbay request that caused the call; null for background jobs." }),
  created_at: Type.String({ format: "date-time" }),
});

const LogsQuery = PageQuery("A provider call id", {
    status_class: Type.Optional(StringEnum(["2xx", "3xx", "4xx", "5xx", "error"] as const, { description: "error: no answer came (timeout, network)." })),
    since: Type.Optional(Type.String({ format: "date-time" })),
    until: Type.Optional(Type.String({ format: "date-time" })),
});

const ProviderCallList = ListOf(ProviderCall);

/**
 * The provider proxy and the provider-call log, under the integrations
 * surface's API-key hook (scope, rate limit). The proxy has its own body
 * handling: nothing is parsed, the raw request streams to the provider.
 */
export async function proxyRoutes(root: FastifyInstance, { services }: { services: Services }) {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.get("/v1/integrations/:connector_type/logs", {
    config: { scope: "integrations:read" },
    schema: {
      tags: ["integrations"],
      security: [{ bearerAuth: [] }],
      summary: "The connector's provider-call log, newest first",
      description:
        "Every outbound call Patchbay made for the connector (proxied, verification, health check, token minting, Shopify refresh): time, method, path (secret query values redacted), status, latency, bytes each way, error class and the request id. Never a header value or a body. Kept PATCHBAY_PROVIDER_LOG_RETENTION_DAYS (7) days.",
      params: ConnectorTypeParams,
      querystring: LogsQuery,
      response: { 200: ProviderCallList, ...errorResponses(400, 401, 403, 404) },
    },
    handler: async (request) => {
      const connector = await services.connectors.getConnector(request.actor, request.params.connector_type);
      const q = request.query;
      const page = await services.callLog.list(connector.id, {
        ...pageOptions(q),
        statusClass: q.status_class,
        since: q.since ? new Date(q.since) : undefined,
        until: q.until ? new Date(q.until) : undefined,
      });
      return listEnvelope(page, `/v1/integrations/${request.params.connector_type}/logs`);
    },
  });

  await app.register(async (proxy) => {
    proxy.setErrorHandler((err, request, reply) => sendProxyError(request, reply, err));
    // The body is the provider's business: not parsed, not limited by PATCHBAY_BODY_LIMIT_BYTES, streamed as it comes.
    proxy.removeAllContentTypeParsers();
    proxy.addContentTypeParser("*", (_request, _payload, done) => done(null, undefined));

    // One route per method, so each has its own operationId in the OpenAPI document.
    for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"] as const) proxy.withTypeProvider<TypeBoxTypeProvider>().route({
      method,
      url: "/v1/integrations/:connector_type/proxy/*",
      config: { scope: "integrations:proxy", idempotency: "passthrough" },
      schema: {
        operationId: `proxy${method[0]}${method.slice(1).toLowerCase()}`,
        tags: ["integrations"],
        security: [{ bearerAuth: [] }],
        summary: "Call the provider's API with the stored credentials",
        description:
          "Forwards the request (method, path after /proxy, query, headers, body — streamed) to the provider's base URL for the connector's mode, with the credentials " +
          "injected by the type's auth recipe (README, Proxy). The provider's answer comes back as it was, less hop-by-hop headers, with x-request-id added. " +
          "An error raised by Patchbay itself has a code starting proxy_ (or the surface's auth codes) and the header Patchbay-Proxy-Error: true. " +
          "Idempotency-Key passes through to the provider; Patchbay stores nothing.",
        params: ProxyParams,
        response: errorResponses(400, 401, 403, 404, 409, 413, 429, 502, 504),
      },
      handler: async (request, reply) => {
        const raw = request.raw.url ?? "";
        const q = raw.indexOf("?");
        const rawPathAll = q < 0 ? raw : raw.slice(0, q);
        const m = /^\/v1\/integrations\/[^/]+\/proxy(\/.*)?$/.exec(rawPathAll);
        const answer = await services.proxy.forward(request.actor, request.params.connector_type as ConnectorType, {
          method: request.method,
          rawPath: m?.[1] ?? "/",
          rawQuery: q < 0 ? "" : raw.slice(q + 1),
          headers: request.headers,
          body: request.raw,
          requestId: request.id,
        });
        return reply.status(answer.status).headers(answer.headers).send(answer.body);
      },
    });
  });
}
