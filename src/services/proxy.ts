import type { Readable } from "node:stream";
import { finished, pipeline } from "node:stream";
import { connectorDefinition, type ConnectorType } from "../catalog/index.ts";
import type { AuthRecipe } from "../catalog/definition.ts";
import type { Clock } from "../kernel/clock.ts";
import type { Config } from "../config.ts";
import type { Database } from "../db/index.ts";
import type { ConnectorRecord } from "../db/schema.ts";
import { providerBaseUrl } from "../providers/base-urls.ts";
import { queryWithout, refusePath, targetUrl } from "../providers/proxy-target.ts";
import { byteCounter, connectionListed, HOP_BY_HOP, isTimeout, TransportError, type ProxyTransport, type TransportResponse } from "../providers/proxy-transport.ts";
import { basicAuth } from "../providers/verify/check.ts";
import type { ApiKeyActor } from "../auth/actor.ts";
import { assertKeyMayAct, selectConnector } from "./connectors.ts";
import { DomainError, hintDetails, type Hint } from "../kernel/errors.ts";
import { fillTemplate, type MintedTokens } from "./minted-tokens.ts";
import type { ProviderCallLog } from "./provider-calls.ts";
import { failedCallDetail, redactQuery, type CallContext } from "../providers/call-log.ts";
import type { ShopifyGrants } from "./shopify-grants.ts";

/** The caller's request as the surface hands it over: raw path and query, headers, and the unread body. */
export interface ProxyCall {
  method: string;
  /** The provider path as it arrived (percent-encoded), after …/proxy. */
  rawPath: string;
  rawQuery: string;
  headers: Record<string, string | string[] | undefined>;
  body: Readable | null;
  requestId: string;
}

export interface ProxyAnswer {
  status: number;
  headers: Record<string, string | string[]>;
  /** The provider's body: streamed, or read whole when it declared a small length (SMALL_ANSWER_BYTES). */
  body: Readable | Buffer;
}

/** Headers of Patchbay's own request that never go to a provider (besides hop-by-hop and the recipe's). */
const CALLER_ONLY = new Set(["host", "authorization", "cookie", "content-length", "expect", "forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip", "x-request-id"]);

/** Provider answer headers that are not relayed: Patchbay's own names, and cookies for Patchbay's origin. */
const NOT_RELAYED = new Set(["set-cookie", "x-request-id", "patchbay-proxy-error"]);

/** Bodies up to this size are read first when the call may have to be sent again (a retry, a re-minted token). */
const REPLAY_BUFFER_BYTES = 64 * 1024;

/**
 * An answer that declares at most this many bytes is read whole before it is
 * relayed: one buffer written to the caller instead of a stream piped through
 * (about a tenth of a small proxied GET's CPU, BENCHMARKS.md), and memory stays
 * bounded by this. Larger or undeclared answers are streamed as they come.
 */
const SMALL_ANSWER_BYTES = 64 * 1024;

const SAFE_METHODS = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);

export interface ProxyDeps {
  db: Database;
  clock: Clock;
  config: Pick<Config, "providerUrls" | "proxy">;
  /** The entity's connector of a type with its opened credentials, in one query (CredentialService). */
  connectorWithCredentials(entityId: string, type: string): Promise<{ connector: ConnectorRecord; credentials: Record<string, string> | null } | undefined>;
  grants: Pick<ShopifyGrants, "openAccessToken" | "refreshGrant">;
  minted: MintedTokens;
  transport: ProxyTransport;
  callLog: Pick<ProviderCallLog, "record">;
  sleep?: (ms: number) => Promise<void>;
}

/** Injected credentials for one attempt: headers and query parameters, and what to redo on a 401. */
interface Injection {
  headers: Readonly<Record<string, string>>;
  /** The recipe's query parameters, encoded (empty when it has none). */
  query: string;
  base: string;
  /** Minted recipes: the generation used, so a 401 asks for a newer one. */
  generation?: number;
}

/**
 * The provider proxy (SPEC §9): forwards an entity's request to its
 * connector's provider with the stored credentials injected by the type's
 * auth recipe, and streams the answer back. Never returns, logs or records
 * a credential: the recipe's headers and query values exist only in the
 * outgoing request.
 */
export function createProxyService(deps: ProxyDeps) {
  const { config, transport, callLog } = deps;
  /** A header or query recipe's injection by the opened credentials it was filled from: gone with them. */
  const filled = new WeakMap<Record<string, string>, { recipe: AuthRecipe; injection: Injection }>();
  const sleep = deps.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));

  async function connectorFor(actor: ApiKeyActor, type: ConnectorType): Promise<{ connector: ConnectorRecord; credentials: Record<string, string> | null }> {
    const found = await deps.connectorWithCredentials(actor.entityId, type);
    const c = found?.connector;
    if (!c) throw proxyError("not_found", "proxy_connector_not_found", `No ${type} connector exists for this entity.`, { to: "create_connector", connector_type: type });
    assertKeyMayAct(actor, c.mode);
    if (c.disconnected_at !== null) {
      throw proxyError("conflict", "proxy_connector_disconnected", `The ${type} connector is disconnected.`, { to: "restore_connector", connector_type: type, then_send_again: true });
    }
    if (!c.is_active) {
      throw proxyError("conflict", "proxy_connector_paused", `The ${type} connector is paused (is_active: false).`, { to: "resume_connector", connector_type: type });
    }
    return found;
  }

  async function inject(c: ConnectorRecord, recipe: AuthRecipe, credentials: Record<string, string> | null, opts: { newerThan?: number; requestId: string }): Promise<Injection> {
    const type = c.connector_type as ConnectorType;
    const noCredentials = () =>
      proxyError("conflict", "proxy_no_credentials", `The ${type} connector has no credentials to call the provider with.`, type === "shopify" ? { to: "connect_shop" } : { to: "store_credentials", connector_type: type });
    if (recipe.scheme === "shopify_token") {
      let access = await deps.grants.openAccessToken(c);
      if (access?.expired) {
        await deps.grants.refreshGrant(c.id);
        access = await deps.grants.openAccessToken(c);
      }
      if (!access || access.expired) throw noCredentials();
      return { headers: { "x-shopify-access-token": access.accessToken }, query: "", base: providerBaseUrl(config, "shopify", { shop: access.shop }) };
    }
    if (!credentials) throw noCredentials();
    const base = providerBaseUrl(config, type, { mode: c.mode });
    if (recipe.scheme === "minted") {
      const token = await deps.minted.token(c, recipe.mint, credentials, { newerThan: opts.newerThan, requestId: opts.requestId });
      return { headers: { [recipe.header]: `${recipe.prefix}${token.accessToken}` }, query: "", base, generation: token.generation };
    }
    // Header and query recipes: filled in once per opened credentials (the credentials cache hands out the same object until they change).
    const kept = filled.get(credentials);
    if (kept && kept.recipe === recipe && kept.injection.base === base) return kept.injection;
    const injection = fixedInjection(recipe, credentials, base);
    filled.set(credentials, { recipe, injection });
    return injection;
  }

  return {
    async forward(actor: ApiKeyActor, type: ConnectorType, call: ProxyCall): Promise<ProxyAnswer> {
      const refusal = refusePath(call.rawPath);
      if (refusal) throw proxyError("validation", "proxy_path_refused", refusal, "Send the provider's path as its reference gives it, e.g. …/proxy/v1/charges?limit=3.");
      const declared = Number(call.headers["content-length"] ?? 0);
      if (declared > config.proxy.maxRequestBytes) throw bodyTooLarge(config.proxy.maxRequestBytes);

      const { connector: c, credentials } = await connectorFor(actor, type);
      const recipe = connectorDefinition(type).authRecipe;
      const owned = ownedNames(recipe);
      const context: CallContext = { entityId: c.entity_id, connectorId: c.id, connectorType: type, purpose: "proxy", requestId: call.requestId };

      const headers = forwardedHeaders(call.headers, owned.headers);
      const hasBody = call.body !== null && (declared > 0 || call.headers["transfer-encoding"] !== undefined);
      const repeatable = SAFE_METHODS.has(call.method) || (recipe.idempotencyHeader !== undefined && call.headers[recipe.idempotencyHeader] !== undefined);
      // A body that may have to be sent again is read first, if small; any other body is streamed once.
      let body: Buffer | Readable | null = null;
      if (hasBody) {
        body = declared > 0 && declared <= REPLAY_BUFFER_BYTES ? await readAll(call.body!, config.proxy.maxRequestBytes) : limited(call.body!, config.proxy.maxRequestBytes);
        if (Buffer.isBuffer(body)) headers["content-length"] = String(body.length);
        else if (declared > 0) headers["content-length"] = String(declared);
      }
      const replayable = body === null || Buffer.isBuffer(body);
      const query = queryWithout(call.rawQuery, owned.query);

      let injection = await inject(c, recipe, credentials, { requestId: call.requestId });
      let reminted = false;
      for (let attempt = 1; ; attempt++) {
        const url = targetUrl(injection.base, call.rawPath, query && injection.query ? `${query}&${injection.query}` : query || injection.query);
        if (!url) throw proxyError("validation", "proxy_path_refused", "The path would leave the provider's base URL.", "Send the provider's path only.");
        const loggedPath = redactQuery(url.path, owned.query);
        const started = performance.now();
        const sent = Buffer.isBuffer(body) ? body.length : 0;
        const sentHeaders = { ...headers, ...injection.headers };
        let res: TransportResponse;
        try {
          res = await transport.send({ origin: url.origin, path: url.path, method: call.method, headers: sentHeaders, body });
        } catch (err) {
          if (!(err instanceof TransportError)) throw err;
          const tooLarge = body !== null && !Buffer.isBuffer(body) && (body as Readable & { tooLarge?: boolean }).tooLarge === true;
          callLog.record(context, {
            method: call.method,
            path: loggedPath,
            status: null,
            latencyMs: performance.now() - started,
            bytesSent: sent,
            bytesReceived: 0,
            errorClass: tooLarge ? "too_large" : err.failure,
            detail: failedCallDetail(url.origin + loggedPath, flatHeaders(sentHeaders), null),
          });
          if (tooLarge) throw bodyTooLarge(config.proxy.maxRequestBytes);
          if (repeatable && replayable && attempt < config.proxy.maxAttempts) {
            await sleep(backoffMs(attempt, null));
            continue;
          }
          throw upstreamFailure(type, err.failure === "timeout" ? "timeout" : "unreachable", config.proxy.timeoutMs);
        }

        // A failed answer's exchange (headers only: the body is streamed to the caller) goes to a shop integration's exception log.
        const logAnswer = (bytesReceived: number, errorClass: string | null) =>
          callLog.record(context, {
            method: call.method,
            path: loggedPath,
            status: res.status,
            latencyMs: performance.now() - started,
            bytesSent: sent,
            bytesReceived,
            errorClass,
            ...(res.status >= 400 ? { detail: failedCallDetail(url.origin + loggedPath, flatHeaders(sentHeaders), { headers: flatHeaders(res.headers), text: null }) } : {}),
          });
        const retryAfter = headerValue(res.headers["retry-after"]);
        const again =
          attempt < config.proxy.maxAttempts &&
          replayable &&
          ((res.status === 401 && injection.generation !== undefined && !reminted) ||
            (repeatable && (res.status === 502 || res.status === 503 || res.status === 504)) ||
            (repeatable && res.status === 429 && retryAfterSeconds(retryAfter) !== null && retryAfterSeconds(retryAfter)! <= config.proxy.retryAfterCapSeconds));
        if (again) {
          res.body.resume();
          logAnswer(0, null);
          if (res.status === 401) {
            // The provider refused the minted token: mint once more (one process does), then one retry.
            reminted = true;
            injection = await inject(c, recipe, credentials, { newerThan: injection.generation, requestId: call.requestId });
          } else {
            await sleep(backoffMs(attempt, retryAfter));
          }
          continue;
        }
        const declaredLength = headerValue(res.headers["content-length"]);
        const declaredAnswer = Number(declaredLength ?? 0);
        if (declaredAnswer > config.proxy.maxResponseBytes) {
          res.body.destroy();
          logAnswer(0, "too_large");
          throw proxyError("upstream", "proxy_response_too_large", `The ${type} API's answer (${declaredAnswer} bytes) is larger than the proxy relays.`, "PATCHBAY_PROXY_MAX_RESPONSE_BYTES sets the limit.");
        }
        if (declaredLength !== null && declaredAnswer <= SMALL_ANSWER_BYTES && hasAnswerBody(call.method, res.status)) {
          let bytes: Buffer;
          try {
            bytes = Buffer.from(await res.body.arrayBuffer());
          } catch (err) {
            // Cut short or stalled before the caller saw anything: Patchbay answers, in its own shape.
            const timedOut = isTimeout(err);
            logAnswer(0, timedOut ? "timeout" : "aborted");
            throw upstreamFailure(type, timedOut ? "timeout" : "cut_short", config.proxy.timeoutMs);
          }
          logAnswer(bytes.length, null);
          return { status: res.status, headers: relayedHeaders(res.headers), body: bytes };
        }
        if (declaredLength !== null) {
          // A declared length within the limit bounds the body already (undici reads no more than it): relayed as it is, no
          // counting stream per call. An answer cut short is logged "aborted" with the bytes unknown (0).
          finished(res.body, (err) => logAnswer(err ? 0 : declaredAnswer, err ? "aborted" : null));
          return { status: res.status, headers: relayedHeaders(res.headers), body: res.body };
        }
        const counter = byteCounter(config.proxy.maxResponseBytes, () => new Error("response too large"));
        pipeline(res.body, counter, (err) => logAnswer(counter.bytes(), err ? (counter.bytes() > config.proxy.maxResponseBytes ? "too_large" : "aborted") : null));
        return { status: res.status, headers: relayedHeaders(res.headers), body: counter };
      }
    },
  };
}

export type ProxyService = ReturnType<typeof createProxyService>;

/** The header and query names a recipe sets: the caller's own copies are dropped. Worked out once per recipe. */
function ownedNames(recipe: AuthRecipe): { headers: ReadonlySet<string>; query: readonly string[] } {
  let owned = ownedByRecipe.get(recipe);
  if (!owned) ownedByRecipe.set(recipe, (owned = namesOf(recipe)));
  return owned;
}
const ownedByRecipe = new WeakMap<AuthRecipe, { headers: ReadonlySet<string>; query: readonly string[] }>();

function namesOf(recipe: AuthRecipe): { headers: Set<string>; query: string[] } {
  switch (recipe.scheme) {
    case "headers":
      return { headers: new Set([...Object.keys(recipe.headers), ...Object.keys(recipe.optional ?? {}), ...(recipe.basic ? ["authorization"] : [])]), query: [] };
    case "query":
      return { headers: new Set(), query: Object.keys(recipe.query) };
    case "shopify_token":
      return { headers: new Set(["x-shopify-access-token"]), query: [] };
    case "minted":
      return { headers: new Set([recipe.header]), query: [] };
  }
}

/** A header or query recipe's credentials in their places (frozen: shared by every call until the credentials change). */
function fixedInjection(recipe: Extract<AuthRecipe, { scheme: "headers" | "query" }>, credentials: Record<string, string>, base: string): Injection {
  if (recipe.scheme === "query") {
    const query = new URLSearchParams(Object.entries(recipe.query).map(([k, t]) => [k, fillTemplate(t, credentials)])).toString();
    return Object.freeze({ headers: Object.freeze({}), query, base });
  }
  const headers = Object.fromEntries(Object.entries(recipe.headers).map(([k, t]) => [k, fillTemplate(t, credentials)]));
  for (const [k, t] of Object.entries(recipe.optional ?? {})) {
    const value = fillTemplate(t, credentials);
    if (value) headers[k] = value;
  }
  if (recipe.basic) headers.authorization = basicAuth(credentials[recipe.basic.userKey] ?? "", recipe.basic.passwordKey ? (credentials[recipe.basic.passwordKey] ?? "") : "");
  return Object.freeze({ headers: Object.freeze(headers), query: "", base });
}

function forwardedHeaders(incoming: ProxyCall["headers"], owned: ReadonlySet<string>): Record<string, string | string[]> {
  const listed = connectionListed(incoming.connection);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name) || CALLER_ONLY.has(name) || owned.has(name)) continue;
    // Refused here, by name, rather than by the HTTP client as an unreachable provider.
    if (typeof value === "string" ? !FIELD_VALUE.test(value) : value.some((v) => !FIELD_VALUE.test(v))) {
      throw new DomainError("validation", "proxy_header_invalid", `The ${name} header holds characters an HTTP header cannot carry.`, {
        hint: "Header values are visible ASCII, spaces, tabs and obs-text (RFC 9110 §5.5).",
        param: name,
      });
    }
    out[name] = value;
  }
  return out;
}

/** An HTTP field value (RFC 9110 §5.5): tabs, spaces, visible ASCII, obs-text. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function relayedHeaders(incoming: TransportResponse["headers"]): Record<string, string | string[]> {
  const listed = connectionListed(incoming.connection);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name) || NOT_RELAYED.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** The provider gave no (whole) answer: a timeout, no connection, or an answer cut short before its declared length. */
function upstreamFailure(type: ConnectorType, failure: "timeout" | "unreachable" | "cut_short", timeoutMs: number): DomainError {
  if (failure === "timeout") return proxyError("upstream", "proxy_timeout", `The ${type} API did not answer within ${timeoutMs} ms.`, "Try again; PATCHBAY_PROXY_TIMEOUT_MS sets the limit.");
  return proxyError("upstream", "proxy_unreachable", failure === "cut_short" ? `The ${type} API's answer was cut short.` : `The ${type} API could not be reached.`, "Try again shortly.");
}

/** HEAD answers and 204/304 declare a length they do not carry. */
function hasAnswerBody(method: string, status: number): boolean {
  return method !== "HEAD" && status !== 204 && status !== 304 && status >= 200;
}

function headerValue(v: string | string[] | undefined): string | null {
  return v === undefined ? null : Array.isArray(v) ? (v[0] ?? null) : v;
}

function retryAfterSeconds(v: string | null): number | null {
  return v !== null && /^\d+$/.test(v) ? Number(v) : null;
}

function backoffMs(attempt: number, retryAfter: string | null): number {
  const s = retryAfterSeconds(retryAfter);
  if (s !== null) return s * 1000;
  return Math.round(100 * 2 ** (attempt - 1) * (0.8 + Math.random() * 0.4));
}

async function readAll(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    n += (chunk as Buffer).length;
    if (n > limit) throw bodyTooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The body streamed on, failing the upload once it passes the limit. */
function limited(body: Readable, limit: number): Readable {
  const counter = byteCounter(limit, () => {
    (counter as Readable & { tooLarge?: boolean }).tooLarge = true;
    return new Error("request body too large");
  });
  pipeline(body, counter, () => {});
  return counter;
}

function bodyTooLarge(limit: number): DomainError {
  return proxyError("validation", "proxy_body_too_large", `The request body is larger than the proxy forwards (${limit} bytes).`, "PATCHBAY_PROXY_MAX_REQUEST_BYTES sets the limit.");
}

export function proxyError(kind: "validation" | "not_found" | "conflict" | "upstream", code: string, message: string, hint: Hint): DomainError {
  return new DomainError(kind, code, message, hintDetails(hint));
}

function flatHeaders(headers: Record<string, string | string[] | undefined>): [string, string][] {
  return Object.entries(headers).flatMap(([k, v]) => (v === undefined ? [] : [[k, Array.isArray(v) ? v.join(", ") : v] as [string, string]]));
}
