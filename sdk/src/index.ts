// The hand-written layer of the Patchbay SDK: authentication per surface,
// Idempotency-Key per write, retries with backoff, timeouts, typed errors.
// The methods themselves (operations.ts) and their types (schema.ts) are
// generated from the served OpenAPI document (scripts/generate-sdk.ts).
import createClient, { type Client } from "openapi-fetch";
import { operationGroups, type OperationGroups, type Transport } from "./operations.ts";
import type { paths } from "./schema.ts";

export type { paths, components, operations } from "./schema.ts";

export interface PatchbayOptions {
  /** An entity API key (ark_live_ent_… / ark_test_ent_…): /v1, and x-api-key on the connections surface. */
  apiKey?: string;
  /** The key's public_key: with apiKey, the Basic credentials of /api/v3 (shop integrations). */
  publicKey?: string;
  /** A connection token: the Bearer of the per-connection routes of the connections surface. */
  connectionToken?: string;
  /** The admin token: /admin/v1. */
  adminToken?: string;
  /** Default http://127.0.0.1:8080. */
  baseUrl?: string;
  /** Retries after the first attempt, on 409 idempotency_key_in_use, 429, 503 and network errors. Default 2. */
  maxRetries?: number;
  /** Milliseconds per attempt before it is abandoned (and retried). Default 30 000. */
  timeout?: number;
  /** A fetch of your own (tests, proxies). */
  fetch?: typeof fetch;
}

export type Surface = "integrations" | "connections" | "shop_integrations" | "admin" | "operations";

/** Which surface a path belongs to: each has its own auth scheme and error shape. */
export function surfaceOf(path: string): Surface {
  if (/^\/api\/v3(\/|$)/.test(path)) return "shop_integrations";
  if (/^\/admin\//.test(path)) return "admin";
  if (/^\/v1\//.test(path)) return "integrations";
  if (/^\/(connections|simulated-connections|retailers|purchases|webhooks|link-tokens|link)(\/|$)/.test(path)) return "connections";
  return "operations";
}

/** An error answer of the API. `code` is the surface's machine code (on the connections surface, which has none, `http_<status>`). */
export class PatchbayError extends Error {
  readonly surface: Surface;
  readonly status: number;
  readonly code: string;
  readonly hint?: string;
  readonly request_id?: string;
  /** The body as the surface sent it. */
  readonly body: unknown;
  constructor(init: { surface: Surface; status: number; code: string; message: string; hint?: string; request_id?: string; body: unknown }) {
    super(init.message);
    this.name = new.target.name;
    this.surface = init.surface;
    this.status = init.status;
    this.code = init.code;
    this.hint = init.hint;
    this.request_id = init.request_id;
    this.body = init.body;
  }
}
/** /v1: `{error, code, type, hint?, param?, required?, request_id}`. */
export class IntegrationsError extends PatchbayError {
  get type(): string | undefined {
    return (this.body as { type?: string }).type;
  }
  get param(): string | undefined {
    return (this.body as { param?: string }).param;
  }
}
/** /admin/v1: the same shape as /v1. */
export class AdminError extends IntegrationsError {}
/** /connections…: `{detail: string}` or, for 422, `{detail: [{loc, msg, type}]}`. */
export class ConnectionsError extends PatchbayError {
  get detail(): unknown {
    return (this.body as { detail?: unknown }).detail;
  }
}
/** /api/v3: JSON:API `{errors: [{status, code, title, detail, source?}]}`. */
export class ShopIntegrationsError extends PatchbayError {
  get errors(): Array<{ status: string; code: string; title: string; detail?: string; source?: { pointer?: string } }> {
    return (this.body as { errors?: never[] }).errors ?? [];
  }
}
/** No answer: the network failed or every attempt timed out. */
export class PatchbayConnectionError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = "PatchbayConnectionError";
  }
}

function errorOf(surface: Surface, status: number, body: unknown, requestId: string | undefined): PatchbayError {
  const b = (body && typeof body === "object" ? body : {}) as Record<string, unknown>;
  const request_id = typeof b.request_id === "string" ? b.request_id : requestId;
  if (surface === "shop_integrations") {
    const first = (Array.isArray(b.errors) ? b.errors[0] : undefined) as Record<string, string> | undefined;
    return new ShopIntegrationsError({ surface, status, code: first?.code ?? `http_${status}`, message: first?.detail ?? first?.title ?? `HTTP ${status}`, request_id, body });
  }
  if (surface === "connections") {
    const detail = b.detail;
    const message = typeof detail === "string" ? detail : Array.isArray(detail) ? detail.map((d: { loc?: unknown[]; msg?: string }) => `${(d.loc ?? []).join(".")}: ${d.msg}`).join("; ") : `HTTP ${status}`;
    return new ConnectionsError({ surface, status, code: status === 422 ? "validation_error" : `http_${status}`, message, request_id, body });
  }
  const Kind = surface === "admin" ? AdminError : IntegrationsError;
  const code = typeof b.code === "string" ? b.code : typeof b.error === "string" ? b.error : `http_${status}`;
  const message = typeof b.message === "string" ? b.message : code;
  return new Kind({ surface, status, code, message, hint: typeof b.hint === "string" ? b.hint : undefined, request_id, body });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Patchbay implements Transport {
  readonly integrations: OperationGroups["integrations"] & { proxy: Patchbay["proxy"] };
  readonly audit: OperationGroups["audit"];
  /** GET /v1/request_logs (scope request_logs:read). */
  readonly requestLogs: OperationGroups["requestLogs"];
  readonly webhooks: OperationGroups["webhooks"];
  readonly connections: OperationGroups["connections"];
  readonly shopIntegrations: OperationGroups["shopIntegrations"];
  readonly admin: OperationGroups["admin"];
  /** The probes and /metrics. */
  readonly operations: OperationGroups["operations"];
  readonly options: Readonly<Required<Pick<PatchbayOptions, "baseUrl" | "maxRetries" | "timeout">>> & PatchbayOptions;
  private readonly client: Client<paths>;

  constructor(options: PatchbayOptions = {}) {
    this.options = { ...options, baseUrl: (options.baseUrl ?? "http://127.0.0.1:8080").replace(/\/+$/, ""), maxRetries: options.maxRetries ?? 2, timeout: options.timeout ?? 30_000 };
    this.client = createClient<paths>({ baseUrl: this.options.baseUrl, fetch: (request: Request) => this.send(request) });
    const groups = operationGroups(this);
    this.integrations = Object.assign(groups.integrations, { proxy: this.proxy.bind(this) });
    this.audit = groups.audit;
    this.requestLogs = groups.requestLogs;
    this.webhooks = groups.webhooks;
    this.connections = groups.connections;
    this.shopIntegrations = groups.shopIntegrations;
    this.admin = groups.admin;
    this.operations = groups.operations;
  }

  /** The same client acting for one connection (its token as Bearer on the per-connection routes). */
  withConnectionToken(connectionToken: string): Patchbay {
    return new Patchbay({ ...this.options, connectionToken });
  }

  /** The same client with other options (e.g. the public key for /api/v3). */
  with(options: PatchbayOptions): Patchbay {
    return new Patchbay({ ...this.options, ...options });
  }

  /** Calls the provider's API through Patchbay's proxy: `proxy("stripe", "GET", "/v1/balance")`. The provider's answer is returned as it came. */
  async proxy(connectorType: string, method: string, path: string, init: { query?: Record<string, string>; body?: unknown; headers?: Record<string, string> } = {}): Promise<Response> {
    const qs = init.query ? `?${new URLSearchParams(init.query)}` : "";
    const body = init.body === undefined ? undefined : typeof init.body === "string" ? init.body : JSON.stringify(init.body);
    const headers = new Headers(init.headers);
    if (body !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json");
    const url = `${this.options.baseUrl}/v1/integrations/${encodeURIComponent(connectorType)}/proxy${path.startsWith("/") ? path : `/${path}`}${qs}`;
    const res = await this.send(new Request(url, { method: method.toUpperCase(), headers, body }));
    if (res.headers.get("patchbay-proxy-error") === "true") throw errorOf("integrations", res.status, await res.json().catch(() => ({})), res.headers.get("x-request-id") ?? undefined);
    return res;
  }

  /** Transport for the generated methods: the data of a success, a typed error otherwise. */
  async call(method: string, route: string, init: unknown, idempotent: boolean): Promise<unknown> {
    const fn = this.client[method as "GET"] as unknown as (route: string, init: unknown) => Promise<{ data?: unknown; error?: unknown; response: Response }>;
    const options = { ...(init as { headers?: HeadersInit } | undefined) };
    if (idempotent) {
      // One key per call, sent again on every retry of it (send() reuses the request's headers); the caller's own key wins.
      const headers = new Headers(options.headers);
      if (!headers.has("idempotency-key")) headers.set("idempotency-key", crypto.randomUUID());
      options.headers = headers;
    }
    const { data, error, response } = await fn(route, options);
    if (!response.ok) throw errorOf(surfaceOf(new URL(response.url || this.options.baseUrl + route).pathname), response.status, error, response.headers.get("x-request-id") ?? undefined);
    return data;
  }

  private authenticate(request: Request): void {
    const { apiKey, publicKey, connectionToken, adminToken } = this.options;
    const h = request.headers;
    switch (surfaceOf(new URL(request.url).pathname)) {
      case "integrations":
        if (apiKey && !h.has("authorization")) h.set("authorization", `Bearer ${apiKey}`);
        break;
      case "connections":
        if (apiKey && !h.has("x-api-key")) h.set("x-api-key", apiKey);
        if (connectionToken && !h.has("authorization")) h.set("authorization", `Bearer ${connectionToken}`);
        break;
      case "shop_integrations":
        if (apiKey && publicKey && !h.has("authorization")) h.set("authorization", `Basic ${Buffer.from(`${publicKey}:${apiKey}`).toString("base64")}`);
        break;
      case "admin":
        if (adminToken && !h.has("authorization")) h.set("authorization", `Bearer ${adminToken}`);
        break;
      case "operations":
        break;
    }
  }

  /** One request with its retries: the same Idempotency-Key on every attempt of a write. */
  private async send(request: Request): Promise<Response> {
    this.authenticate(request);
    // The body is read once, so that every attempt can send it again.
    const body = request.body === null ? undefined : await request.arrayBuffer();
    const doFetch = this.options.fetch ?? fetch;
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= this.options.maxRetries;
      let res: Response;
      try {
        res = await doFetch(request.url, { method: request.method, headers: request.headers, body, signal: AbortSignal.timeout(this.options.timeout) });
      } catch (err) {
        if (last) throw new PatchbayConnectionError(`${request.method} ${request.url} failed: ${(err as Error).message}`, err);
        await sleep(backoff(attempt));
        continue;
      }
      if (last || !(await retryable(res))) return res;
      await res.body?.cancel();
      await sleep(retryAfterMs(res) ?? backoff(attempt));
    }
  }
}

/** Exponential backoff with jitter: ~0.5 s, 1 s, 2 s … capped at 8 s. */
function backoff(attempt: number): number {
  const base = Math.min(8000, 500 * 2 ** attempt);
  return base / 2 + Math.random() * (base / 2);
}

function retryAfterMs(res: Response): number | undefined {
  const raw = res.headers.get("retry-after");
  if (!raw) return undefined;
  const seconds = Number(raw);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(raw) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 60_000) : undefined;
}

async function retryable(res: Response): Promise<boolean> {
  if (res.status === 429 || res.status === 503) return true;
  if (res.status !== 409) return false;
  // 409 idempotency_key_in_use (the first attempt still runs); the connections surface's body has no code, but only that 409 carries Retry-After.
  if (res.headers.has("retry-after")) return true;
  const body = (await res.clone().json().catch(() => ({}))) as { code?: string; errors?: Array<{ code?: string }> };
  return body.code === "idempotency_key_in_use" || body.errors?.[0]?.code === "idempotency_key_in_use";
}

export default Patchbay;
