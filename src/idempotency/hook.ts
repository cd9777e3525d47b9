import type { CompiledQuery } from "kysely";
import type { FastifyInstance, FastifyReply, FastifyRequest, onSendHookHandler, preHandlerHookHandler, RouteOptions } from "fastify";
import { ValidationError } from "../kernel/errors.ts";
import { MAX_KEY_LENGTH, type Claim, type IdempotencyStore } from "./store.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * `false`: the route refuses Idempotency-Key (its response carries a secret, which is never stored).
     * `"passthrough"`: Patchbay keeps nothing; the header is the caller's, for the provider (the proxy).
     */
    idempotency?: false | "passthrough";
    /**
     * Top-level fields of the JSON answer that are left out of the stored copy
     * (a secret shown once): a replay answers the rest, without them.
     */
    idempotencyOmitFields?: readonly string[];
    /**
     * The statement the route's handler makes first, sent with the key's claim
     * in one round trip (db/lookahead.ts): a read safe to have made even when
     * the claim answers a replay. Null when it cannot tell.
     */
    idempotencyLookahead?: (request: FastifyRequest) => CompiledQuery | null;
  }
}

export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Response headers that belong to the stored answer and are replayed with it.
 * Per-request headers (x-request-id, X-RateLimit-*) are fresh on every answer.
 */
const REPLAYED_HEADERS = ["content-type", "content-language", "location", "cache-control", "www-authenticate"];

export interface IdempotencyOptions {
  store: IdempotencyStore;
  /** Whose keys these are: the authenticated caller (`entityScope(request.actor)`). */
  scopeOf(request: FastifyRequest): string;
  /** The surface's own error renderer; idempotency errors are domain errors it shapes. */
  renderError(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply;
}

/**
 * Idempotency-Key for every POST, PATCH and DELETE route of the calling
 * surface (SPEC §3). Call it before declaring the routes. The key is claimed
 * as the route's last preHandler — after authentication and validation, so
 * requests refused before execution leave nothing behind — and the handler
 * then runs inside the claim's transaction: every statement it makes joins it.
 * The answer is stored in onSend, before it goes out, by that same
 * transaction, which then commits: the work and its answer are one commit, so
 * a crash at any point leaves either both (a retry replays) or neither (a
 * retry executes once).
 */
export function useIdempotency(app: FastifyInstance, opts: IdempotencyOptions): void {
  const claims = new WeakMap<FastifyRequest, Claim>();

  const claimKey = (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const key = idempotencyKeyOf(request);
    // A route that takes schema failures into its handler (attachValidation) refuses them before execution: nothing to keep.
    if (key === null || !IDEMPOTENT_METHODS.has(request.method) || request.validationError) return done();
    opts.store.fault("before_claim");
    const lookahead = lookaheadOf(request);
    opts.store.begin({ scope: opts.scopeOf(request), key, method: request.method, path: request.url, body: request.body }, { lookahead }).then(
      (outcome) => {
        if (outcome.kind === "execute") {
          claims.set(request, outcome.claim);
          opts.store.fault("after_claim");
          // The rest of the request — the handler and all it awaits — runs inside the claim's transaction.
          return outcome.claim.tx.run(done);
        }
        const { status, headers, body } = outcome.response;
        reply.code(status).headers(headers).header("idempotent-replayed", "true");
        return body.length === 0 ? reply.send() : reply.send(body);
      },
      (err) => opts.renderError(request, reply, err),
    );
  };

  const storeResponse = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const claim = claims.get(request);
    if (!claim) return payload;
    claims.delete(request);
    const sent = payload === undefined || payload === null ? Buffer.alloc(0) : typeof payload === "string" ? Buffer.from(payload) : Buffer.isBuffer(payload) ? payload : null;
    const body = sent === null ? null : withoutFields(sent, request.routeOptions.config.idempotencyOmitFields);
    opts.store.fault("before_commit");
    // A 5xx means the work did not complete: it is undone with the key, and a retry runs again.
    if (reply.statusCode >= 500 || body === null) {
      await opts.store.abandon(claim);
      return payload;
    }
    // A failed commit throws: the work is undone, and the error handler answers in the surface's shape instead.
    await opts.store.complete(claim, { status: reply.statusCode, headers: replayedHeaders(reply), body });
    opts.store.fault("after_commit");
    return payload;
  };

  const refuseKey = async (request: FastifyRequest, reply: FastifyReply) => {
    if (idempotencyKeyOf(request) === null) return;
    return opts.renderError(
      request,
      reply,
      new ValidationError(
        "This route does not accept an Idempotency-Key: its response carries a secret, which is never stored.",
        { param: "Idempotency-Key", hint: "Send the request without the header; list the resources to see whether an earlier attempt succeeded." },
        "idempotency_not_supported",
      ),
    );
  };

  app.addHook("onRoute", (route: RouteOptions) => {
    if (![route.method].flat().some((m) => IDEMPOTENT_METHODS.has(m))) return;
    if (route.config?.idempotency === "passthrough") return;
    if (route.config?.idempotency === false) {
      route.preHandler = [...hooks(route.preHandler), refuseKey as preHandlerHookHandler];
      return;
    }
    route.preHandler = [...hooks(route.preHandler), claimKey as preHandlerHookHandler];
    route.onSend = [...hooks(route.onSend), storeResponse as onSendHookHandler];
    if (route.schema) route.schema = { ...route.schema, headers: withIdempotencyKeyHeader(route.schema.headers) };
  });
}

/**
 * Declares the header in the route schema, so the OpenAPI document shows it.
 * Its length is checked by the store (idempotency_key_invalid), not by the
 * schema, so every surface answers the same code in its own shape.
 */
function withIdempotencyKeyHeader(headers: unknown): object {
  const base = (headers ?? { type: "object", properties: {} }) as { properties?: Record<string, unknown> };
  const header = {
    type: "string",
    description:
      `At most ${MAX_KEY_LENGTH} characters, unique per logical request (a UUID). A retry with the same key, method, path and body within 24 h ` +
      "gets the stored response with Idempotent-Replayed: true; another request with the key is 409 idempotency_key_mismatch; " +
      "a retry while the first still runs is 409 idempotency_key_in_use.",
  };
  return { ...base, properties: { ...base.properties, "idempotency-key": header } };
}

/** The route's first statement to send with the claim; none when the route cannot tell (an optimisation only: never an error). */
function lookaheadOf(request: FastifyRequest): CompiledQuery | null {
  try {
    return request.routeOptions.config.idempotencyLookahead?.(request) ?? null;
  } catch {
    return null;
  }
}

function idempotencyKeyOf(request: FastifyRequest): string | null {
  const raw = request.headers["idempotency-key"];
  if (raw === undefined) return null;
  return Array.isArray(raw) ? raw.join(", ") : raw;
}

/** The stored copy of a JSON answer without the given top-level fields; an answer that is not a JSON object is not stored (null). */
function withoutFields(body: Buffer, fields: readonly string[] | undefined): Buffer | null {
  if (!fields || fields.length === 0 || body.length === 0) return body;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return null;
  const kept = Object.fromEntries(Object.entries(parsed).filter(([k]) => !fields.includes(k)));
  return Buffer.from(JSON.stringify(kept));
}

function replayedHeaders(reply: FastifyReply): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of REPLAYED_HEADERS) {
    const value = reply.getHeader(name);
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  return out;
}

function hooks<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}
