import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { basicCredentials } from "../../auth/basic-auth.ts";
import type { Services } from "../../compose.ts";
import { AuthenticationError, DomainError } from "../../kernel/errors.ts";
import { clientAddress } from "../../ratelimit/auth-throttle.ts";
import { applyRateLimit } from "../../ratelimit/http.ts";
import { OAUTH2_SCOPE, OAUTH2_TOKEN_TTL_SECONDS } from "../../services/oauth2-tokens.ts";
import { normalizeError } from "../shared/http-errors.ts";
import { StringEnum } from "../shared/schema-types.ts";

/**
 * POST /oauth2/token — the token endpoint of the Sendcloud v3 spec's second
 * security scheme (OAuth2ClientCreds, flow clientCredentials, scope `api`), as
 * RFC 6749 §4.4 defines the exchange: the client (an API key: client id = its
 * public_key, client secret = the key) authenticates with HTTP Basic or with
 * client_id/client_secret in the form body, and gets a bearer token that
 * /api/v3 accepts beside Basic auth. Errors are RFC 6749 §5.2's
 * `{error, error_description}`, here and for anything else under /oauth2.
 */
export const OAUTH_ERROR_SCHEMA_ID = "OAuthError";

export const OAuthErrorSchema = Type.Object(
  {
    error: Type.String({
      description:
        "RFC 6749 §5.2: invalid_request, invalid_client, unsupported_grant_type, invalid_scope; besides, rate_limit_exceeded (429), not_found / method_not_allowed (404/405), server_error (500), temporarily_unavailable (503).",
    }),
    error_description: Type.String({ description: "What went wrong, in a sentence." }),
  },
  { $id: OAUTH_ERROR_SCHEMA_ID, description: "An OAuth2 error (RFC 6749 §5.2)." },
);

/** Errors a token request can be refused with, as RFC 6749 §5.2 names them. */
class OAuthError extends DomainError {
  constructor(code: "invalid_request" | "unsupported_grant_type" | "invalid_scope", message: string) {
    super("validation", code, message);
  }
}

/** The body of an error under /oauth2: `{error, error_description}`. */
export function oauthErrorBody(err: unknown): { status: number; body: { error: string; error_description: string }; retryAfter?: number } {
  const e = normalizeError(err);
  const retryAfter = typeof e.meta?.retry_after === "number" ? e.meta.retry_after : undefined;
  const description = e.hint ? `${e.message} ${e.hint}` : e.message;
  let error: string;
  if (e.status === 401) error = "invalid_client";
  else if (["invalid_request", "unsupported_grant_type", "invalid_scope"].includes(e.code)) error = e.code;
  else if (e.status === 404) error = "not_found";
  else if (e.status === 405) error = "method_not_allowed";
  else if (e.status === 429) error = "rate_limit_exceeded";
  else if (e.status === 503) error = "temporarily_unavailable";
  else if (e.status >= 500) error = "server_error";
  // A body the schema refuses, or that is too large or not a form: the request is malformed.
  else error = "invalid_request";
  return { status: e.status, body: { error, error_description: description }, ...(retryAfter === undefined ? {} : { retryAfter }) };
}

export function sendOAuthError(request: FastifyRequest, reply: FastifyReply, err: unknown) {
  const { status, body, retryAfter } = oauthErrorBody(err);
  if (status >= 500) request.log.error({ err }, "request failed");
  // RFC 6749 §5.2: a failed client authentication answers 401 with the scheme the client may use.
  if (status === 401) reply.header("www-authenticate", 'Basic realm="patchbay"');
  if (retryAfter !== undefined) reply.header("retry-after", String(retryAfter));
  noStore(reply);
  return reply.status(status).send(body);
}

/** RFC 6749 §5.1: token answers are never cached. */
function noStore(reply: FastifyReply): void {
  reply.header("cache-control", "no-store");
  reply.header("pragma", "no-cache");
}

const TokenBody = Type.Object(
  {
    grant_type: Type.String({ description: "client_credentials (the one grant)." }),
    scope: Type.Optional(Type.String({ description: `Space-separated; the one scope is ${OAUTH2_SCOPE} (the default).` })),
    client_id: Type.Optional(Type.String({ description: "The API key's public_key, when not sent with HTTP Basic." })),
    client_secret: Type.Optional(Type.String({ description: "The API key, when not sent with HTTP Basic." })),
  },
  { additionalProperties: true },
);

const TokenAnswer = Type.Object({
  access_token: Type.String({ description: "The bearer token (oat_…), shown this once. Send it as `Authorization: Bearer …` on /api/v3." }),
  token_type: Type.Literal("Bearer"),
  expires_in: Type.Integer({ description: `Seconds it is valid for (${OAUTH2_TOKEN_TTL_SECONDS}).` }),
  scope: StringEnum([OAUTH2_SCOPE] as const),
});

const oauthErrors = Object.fromEntries([400, 401, 413, 415, 429].map((s) => [s, Type.Ref(OAUTH_ERROR_SCHEMA_ID)]));

/** The form body as an object; a parameter sent twice is refused (RFC 6749 §3.2). */
function parseForm(text: string): Record<string, string> {
  const form: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(text)) {
    if (name in form) throw new OAuthError("invalid_request", `The parameter ${name} was sent more than once.`);
    form[name] = value;
  }
  return form;
}

/** The client's id and secret: HTTP Basic or the form's client_id/client_secret, not both (RFC 6749 §2.3). */
function clientOf(header: string | undefined, body: { client_id?: string; client_secret?: string }): { id: string; secret: string } {
  const basic = basicCredentials(header);
  const inBody = body.client_id !== undefined || body.client_secret !== undefined;
  if (basic !== "absent" && inBody) throw new OAuthError("invalid_request", "Send the client credentials in the Authorization header or in the body, not both.");
  if (basic === "malformed") throw new AuthenticationError("invalid_client", "The Basic credentials do not decode to client_id:client_secret.");
  if (basic !== "absent") return { id: basic.user, secret: basic.password };
  if (body.client_id && body.client_secret) return { id: body.client_id, secret: body.client_secret };
  throw new AuthenticationError("invalid_client", "No client credentials were sent.", "Send HTTP Basic with the API key's public_key and the key, or client_id and client_secret in the body.");
}

export async function oauth2Routes(root: FastifyInstance, { services }: { services: Services }) {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(OAuthErrorSchema);
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_request, body, done) => {
    try {
      done(null, parseForm(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  const token = {
    schema: {
      tags: ["shop integrations"],
      security: [{ basicAuth: [] }],
      summary: "Exchange an API key for a bearer token (OAuth2 client credentials, /api/v3)",
      description:
        "The Sendcloud v3 spec's OAuth2ClientCreds scheme (RFC 6749 §4.4). Form body (application/x-www-form-urlencoded; JSON is accepted too): " +
        "grant_type=client_credentials, optional scope=api; the client authenticates with HTTP Basic (public_key:key) or client_id/client_secret in the body. " +
        `The token acts as the key (its entity, mode, scopes and rate limit) on /api/v3 only, for ${OAUTH2_TOKEN_TTL_SECONDS} s, and stops when the key is revoked. ` +
        "Only its SHA-256 is stored. Each exchange counts as one request of the key.",
      consumes: ["application/x-www-form-urlencoded", "application/json"],
      body: TokenBody,
      response: { 200: TokenAnswer, ...oauthErrors },
    },
    handler: async (request: FastifyRequest<{ Body: { grant_type: string; scope?: string; client_id?: string; client_secret?: string } }>, reply: FastifyReply) => {
      noStore(reply);
      const body = request.body;
      const client = clientOf(request.headers.authorization, body);
      if (body.grant_type !== "client_credentials") throw new OAuthError("unsupported_grant_type", `grant_type ${JSON.stringify(body.grant_type)} is not supported; the one grant is client_credentials.`);
      const scopes = (body.scope ?? OAUTH2_SCOPE).split(" ").filter(Boolean);
      if (scopes.length === 0 || scopes.some((s) => s !== OAUTH2_SCOPE)) throw new OAuthError("invalid_scope", `The one scope is ${OAUTH2_SCOPE}.`);
      let admitted;
      try {
        admitted = await services.admission.admit(clientAddress(request.ip), client.secret, client.id);
      } catch (err) {
        if (err instanceof AuthenticationError) throw new AuthenticationError("invalid_client", "The client id and secret do not name a valid API key.");
        throw err;
      }
      applyRateLimit(admitted.check, admitted.actor.rateLimit, request, reply);
      return reply.status(200).send(await services.oauth2Tokens.issue(admitted.actor));
    },
  };
  app.post("/oauth2/token", token);
  // The spec's tokenUrl ends in a slash (…/oauth2/token/): both spellings work.
  app.post("/oauth2/token/", { ...token, schema: { ...token.schema, hide: true } });
}
