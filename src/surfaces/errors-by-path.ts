import { STATUS_CODES } from "node:http";
import { v1Hint } from "./integrations/errors.ts";
import type { Socket } from "node:net";
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema, RouteOptions } from "fastify";
import { connectionsError, sendConnectionsError } from "./connections/errors.ts";
import { linkErrorAnswer, sendLinkError } from "./connections/link-page.ts";
import { flatErrorBody, FLAT_ERROR_SCHEMA_ID, sendFlatError } from "./shared/flat-errors.ts";
import { normalizeError } from "./shared/http-errors.ts";
import { jsonApiErrors, sendJsonApiError } from "./shop-integrations/errors.ts";

/**
 * Errors that no surface's own handler sees — unknown routes, wrong methods,
 * a URL the router cannot decode, a request Node's HTTP parser refuses — are
 * answered in the shape of the surface the path belongs to. This is the one
 * place that maps a path to its surface.
 */
export type SurfaceShape = "flat" | "fastapi" | "jsonapi" | "html";

export function surfaceOfPath(target: string): SurfaceShape {
  // An absolute-form target (GET http://host/path) belongs to the surface of its path.
  const path = /^[a-z][a-z0-9+.-]*:\/\//i.test(target) ? target.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, "") || "/" : target;
  if (/^\/api\/v3(\/|$|\?)/.test(path)) return "jsonapi";
  // The hosted link page is for a person in a browser: its errors are pages too.
  if (/^\/link(\/|$|\?)/.test(path)) return "html";
  if (/^\/(connections|simulated-connections|retailers|purchases|webhooks|link-tokens)(\/|$|\?)/.test(path)) return "fastapi";
  // /v1 and /admin/v1, and anything that belongs to no surface.
  return "flat";
}

/** The provider proxy's paths: a URL refused before routing is still Patchbay's own error there, so it says so. */
const PROXY_PATH = /^\/v1\/integrations\/[^/?]+\/proxy(\/|\?|$)/;

function sendProxyFrameworkError(request: FastifyRequest, reply: FastifyReply, err: unknown) {
  reply.header("patchbay-proxy-error", "true");
  if ((err as { code?: string }).code !== "FST_ERR_BAD_URL") return sendFlatError(request, reply, err);
  const refused = { code: "proxy_path_refused", status: 400, message: "The path could not be decoded (a malformed or NUL percent-escape).", hint: "Send the provider's path as its reference gives it.", violations: [], location: "params" };
  return reply.status(400).send(flatErrorBody(refused, request.id));
}

/** Answers `err` in the shape of the request's surface. */
export function sendErrorByPath(request: FastifyRequest, reply: FastifyReply, err: unknown) {
  // Framework errors (a bad URL) are answered before the onRequest hook that sets it.
  reply.header("x-request-id", request.id);
  if (PROXY_PATH.test(request.url)) return sendProxyFrameworkError(request, reply, err);
  switch (surfaceOfPath(request.url)) {
    case "jsonapi":
      return sendJsonApiError(request, reply, err);
    case "fastapi":
      return sendConnectionsError(request, reply, err);
    case "html":
      return sendLinkError(request, reply, err);
    default:
      return sendFlatError(request, reply, err);
  }
}

/** An error with a code normalizeError knows (FST_ERR_NOT_FOUND, FST_ERR_METHOD_NOT_ALLOWED). */
function routeError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** `/v1/integrations/:type/credentials` → a pattern matching its concrete paths. */
function pathPattern(url: string): RegExp {
  const source = url
    .split(/(:[A-Za-z0-9_]+(?:\([^)]*\))?|\*)/)
    .map((part) => (part === "*" ? ".*" : part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`);
}

/**
 * Unknown routes: 404, or 405 with Allow when the path exists under other
 * methods. Call before any route is declared, so every route is known.
 */
export function answerUnknownRoutes(app: FastifyInstance): void {
  const routes: Array<{ methods: string[]; pattern: RegExp }> = [];
  app.addHook("onRoute", (route: RouteOptions) => {
    routes.push({ methods: [route.method].flat().map(String), pattern: pathPattern(route.url) });
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0]!;
    const allowed = [...new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods))];
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      reply.header("allow", allowed.join(", "));
      return sendErrorByPath(request, reply, routeError("FST_ERR_METHOD_NOT_ALLOWED", `${path} does not take ${request.method}; it takes ${allowed.join(", ")}.`));
    }
    return sendErrorByPath(request, reply, routeError("FST_ERR_NOT_FOUND", `No route ${request.method} ${path}.`));
  });
}

/** The path of the request line at the start of what the parser had read, if it can be read. */
function requestPathOf(raw: Buffer | undefined): string | null {
  if (!raw) return null;
  // The target is the request line's second word, whatever follows it (the parser may have refused the line itself).
  const line = /^[A-Z]{1,16} (\S{1,8192})/.exec(raw.subarray(0, 8300).toString("latin1"));
  if (!line) return null;
  // Absolute form (GET http://host/path): the path is what follows the authority.
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(.*)$/i.exec(line[1]!);
  return absolute ? absolute[1] || "/" : line[1]!;
}

/** The status and body of `err` in the surface's shape, for a request that never became a Fastify request. */
function renderBare(path: string, err: unknown, requestId: string): { status: number; contentType: string; payload: string } {
  const json = (status: number, body: unknown) => ({ status, contentType: "application/json; charset=utf-8", payload: JSON.stringify(body) });
  switch (surfaceOfPath(path)) {
    case "jsonapi": {
      const { status, errors } = jsonApiErrors(err, { requestId });
      return json(status, { errors });
    }
    case "fastapi": {
      const { status, body } = connectionsError(err);
      return json(status, body);
    }
    case "html": {
      const { status, html } = linkErrorAnswer(err);
      return { status, contentType: "text/html; charset=utf-8", payload: html };
    }
    default: {
      const e = normalizeError(err, v1Hint);
      return json(e.status, flatErrorBody(e, requestId));
    }
  }
}

/**
 * Fastify's clientErrorHandler: Node's HTTP parser refused the request
 * (headers too large, Content-Length with Transfer-Encoding, a control
 * character in a header). Answered in the shape of the surface its request
 * line names, with a request id, and the connection closed.
 */
export function clientErrorAnswer(genReqId: () => string) {
  return function answerClientError(this: FastifyInstance, err: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void {
    if (err.code === "ECONNRESET" || socket.destroyed) return;
    const requestId = genReqId();
    const raw = Buffer.isBuffer(err.rawPacket) ? err.rawPacket : undefined;
    const { status, contentType, payload } = renderBare(requestPathOf(raw) ?? "/", err, requestId);
    this.log.debug({ err, request_id: requestId }, "client error");
    if (socket.writable) {
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\ncontent-type: ${contentType}\r\n` +
          `content-length: ${Buffer.byteLength(payload)}\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n${payload}`,
      );
    }
    // A client that does not close its end is cut off soon.
    setTimeout(() => socket.destroy(), 1000).unref();
  };
}

const ERROR_SCHEMA_IDS: Record<Exclude<SurfaceShape, "html">, string> = { flat: FLAT_ERROR_SCHEMA_ID, fastapi: "ConnectionsHTTPError", jsonapi: "JsonApiErrors" };

/** Path segments that name a surface or a version, not a resource: left out of operation ids. */
const NOT_RESOURCES = new Set(["v1", "v3", "api"]);
/** A last segment that is an action (POST …/verify, …/rotate_secret): the operation is named after it. */
const ACTIONS = /^(verify|roll|revoke|rewrap|pause|resume|restore|rotate|disconnect|reconnect|refresh|retry|redeliver)(?:[_-](.+))?$/;

function pascal(segment: string): string {
  return segment
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join("");
}

const singular = (word: string) => word.replace(/ies$/, "y").replace(/([^s])s$/, "$1");

/**
 * A stable operationId from the method and the route pattern, for routes that
 * do not name their own: `GET /v1/integrations` → `listIntegrations`,
 * `GET /v1/integrations/:connector_type` → `getIntegration`, `POST
 * /v1/webhook_endpoints` → `createWebhookEndpoint`, `POST
 * /v1/webhook_endpoints/:id/rotate_secret` → `rotateWebhookEndpointSecret`.
 * A collection followed by its id names one item. Generated clients name
 * their methods after these, so they must not change once released
 * (test/openapi.test.ts pins them and keeps them unique).
 */
export function operationIdOf(method: string, url: string): string {
  // /api/v3/integrations are shop integrations, not /v1's connectors.
  const segments = url.replace(/^\/api\/v3\/integrations/, "/shop_integrations").split("/").filter((s) => s !== "" && !NOT_RESOURCES.has(s));
  const last = segments.at(-1) ?? "";
  const action = method === "POST" ? ACTIONS.exec(last) : null;
  const path = action ? segments.slice(0, -1) : segments;
  const endsWithParam = path.at(-1)?.startsWith(":") ?? false;
  const nouns = path.flatMap((s, i) => {
    if (s.startsWith(":")) return [];
    const one = path[i + 1]?.startsWith(":") || (i === path.length - 1 && method === "POST") ? singular(s) : s;
    return [pascal(one)];
  });
  if (action) return `${action[1]}${nouns.join("")}${action[2] ? pascal(action[2]) : ""}`;
  const verb = method === "GET" ? (endsWithParam || !/s$/.test(last) ? "get" : "list") : ({ POST: "create", PUT: "put", PATCH: "update", DELETE: "delete" } as Record<string, string>)[method] ?? method.toLowerCase();
  return `${verb}${nouns.join("")}`;
}

/**
 * The OpenAPI document of every operation: an operationId (operationIdOf
 * unless the route names one); every status it answers described, with the
 * errors any route of its surface can answer (besides the ones the route
 * declares itself), each with the surface's error schema. Documentation
 * only: the route's own response schemas, which also drive serialization,
 * are untouched.
 */
export function withErrorResponses({ schema, url, route }: { schema?: FastifySchema; url: string; route?: { method: string | string[] } }): { schema: FastifySchema; url: string } {
  const base = (schema ?? {}) as FastifySchema & { security?: unknown[]; hide?: boolean; operationId?: string };
  if (base.hide) return { schema: base, url };
  const shape = surfaceOfPath(url);
  const statuses = [400, 404, 429, 500, 503];
  if (base.body) statuses.push(413, 415);
  if (base.security === undefined || base.security.length > 0) statuses.push(401, 403);
  if (shape === "fastapi" && (base.body || base.querystring || base.params)) statuses.push(422);
  const response: Record<string, unknown> = {};
  for (const [status, r] of Object.entries((base.response as Record<string, Record<string, unknown>> | undefined) ?? {})) {
    // fastify-swagger says "Default Response" for a schema without a description.
    response[status] = typeof r.description === "string" ? r : { ...r, description: STATUS_CODES[Number(status)] ?? "Response" };
  }
  for (const status of statuses.sort()) {
    if (String(status) in response) continue;
    if (shape === "html") {
      response[String(status)] = { description: STATUS_CODES[status], content: { "text/html": { schema: { type: "string" } } } };
      continue;
    }
    const id = shape === "fastapi" && status === 422 ? "ConnectionsValidationError" : ERROR_SCHEMA_IDS[shape];
    response[String(status)] = { $ref: id, description: STATUS_CODES[status] };
  }
  const method = [route?.method ?? "GET"].flat()[0]!.toUpperCase();
  // A wildcard route (the proxy) answers whatever it forwards, and its `*` is not a name OpenAPI tools accept: it is `{path}`.
  if (url.endsWith("/*")) {
    if (!Object.keys(response).some((s) => s.startsWith("2"))) response["200"] = { description: "The provider's answer, as it was: its status, its headers less hop-by-hop ones, its body." };
    const params = base.params as { properties?: Record<string, unknown>; required?: string[] } | undefined;
    const { "*": wildcard, ...rest } = params?.properties ?? {};
    const renamed = params ? { ...params, properties: { ...rest, path: wildcard }, required: (params.required ?? []).map((r) => (r === "*" ? "path" : r)) } : params;
    return { schema: { ...base, params: renamed, operationId: base.operationId ?? operationIdOf(method, url), response } as FastifySchema, url: `${url.slice(0, -1)}:path` };
  }
  return { schema: { ...base, operationId: base.operationId ?? operationIdOf(method, url), response } as FastifySchema, url };
}
