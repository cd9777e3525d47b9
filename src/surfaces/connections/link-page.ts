import { randomBytes } from "node:crypto";
import { setPageHeaders } from "../shared/page-headers.ts";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type, type Static } from "@sinclair/typebox";
import { clientAddress } from "../../ratelimit/auth-throttle.ts";
import type { Services } from "../../compose.ts";
import { PermissionError, ValidationError } from "../../kernel/errors.ts";
import { normalizeError } from "../shared/http-errors.ts";
import type { DurableTarget } from "../../services/durable-linking.ts";
import { linkErrorPage, linkFormPage, linkSuccessPage, retailerSelectPage, STYLE_HASH } from "./link-html.ts";

const CSRF_COOKIE = "pb_link_csrf";
const CSRF_PURPOSE = "link-form v1";
const NONCE_RE = /^[A-Za-z0-9_-]{24}$/;
const CREDENTIAL_MAX = 256;

const durableFields = {
  link_token: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: "A durable link token (POST /link-tokens), instead of connection_token" })),
  connection_id: Type.Optional(Type.String({ minLength: 1, maxLength: 26, description: "With link_token: re-authenticate this connection of the token's customer" })),
  retailer_id: Type.Optional(Type.String({ minLength: 1, maxLength: 26, description: "With link_token: link this retailer (slug or ULID); without it and connection_id, the page asks" })),
};

const LinkQuery = Type.Object({
  connection_token: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: "A connection token of scope link" })),
  ...durableFields,
  redirect_url: Type.Optional(Type.String({ maxLength: 2048, description: "http(s) URL to send the customer to afterwards, with ?connection_id=…" })),
});

const LinkForm = Type.Object(
  {
    connection_token: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    ...durableFields,
    redirect_url: Type.Optional(Type.String({ maxLength: 2048 })),
    csrf_token: Type.String({ minLength: 1, maxLength: 128 }),
    username: Type.String({ maxLength: 1024 }),
    password: Type.String({ maxLength: 1024 }),
  },
  { additionalProperties: false },
);

const TITLES: Record<number, string> = {
  400: "This link is incomplete",
  401: "This link is invalid or has expired",
  403: "This page cannot be used this way",
  404: "This link is invalid",
  409: "This link can no longer be used",
  429: "Too many attempts",
  501: "Linking is not available",
};

/**
 * The hosted link page (SPEC §4): `GET /link?connection_token=…&redirect_url=…`
 * shows a form for the retailer login; `POST /link` checks it with the retailer.
 *
 * CSRF: GET sets a random nonce in an HttpOnly, SameSite=Strict cookie; the
 * form carries an HMAC of (nonce, link token id, redirect_url). POST needs
 * both to match, and refuses cross-site requests (Sec-Fetch-Site, Origin).
 * The password is never logged, echoed into the page or stored unsealed.
 */
/** Documentation of the page answers (HTML, not serialized through a schema). */
const HTML_PAGE = { description: "The page (HTML)", content: { "text/html": { schema: { type: "string" } } } };

export async function linkPageRoutes(root: FastifyInstance, { services, publicUrl }: { services: Services; publicUrl: string }) {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const tokens = services.connectionTokens;
  const secureCookie = publicUrl.startsWith("https:");

  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.setErrorHandler((err, request, reply) => sendLinkError(request, reply, err));

  app.get("/link", {
    schema: { tags: ["connections"], summary: "The hosted link page (HTML)", security: [], querystring: LinkQuery, produces: ["text/html"], response: { 200: HTML_PAGE } },
    handler: async (request, reply) => {
      const q = request.query;
      const redirectUrl = parseRedirectUrl(q.redirect_url);
      const guard = <T>(check: () => T | Promise<T>) => services.authThrottle.guard(clientAddress(request.ip), check);
      const existing = readCookie(request, CSRF_COOKIE);
      const nonce = existing && NONCE_RE.test(existing) ? existing : randomBytes(18).toString("base64url");
      const setNonce = () => reply.header("set-cookie", `${CSRF_COOKIE}=${nonce}; Path=/link; Max-Age=3600; HttpOnly; SameSite=Strict${secureCookie ? "; Secure" : ""}`);
      if (q.connection_token !== undefined) {
        const connectionToken = q.connection_token;
        const session = await guard(() => services.connectionLinking.openLinkSession(connectionToken));
        setNonce();
        const csrfToken = tokens.mac(CSRF_PURPOSE, nonce, session.claims.tokenId, redirectUrl ?? "");
        return sendPage(reply, linkFormPage({ retailerName: session.retailer.name, hidden: { connection_token: q.connection_token }, redirectUrl, csrfToken }), redirectUrl);
      }
      const linkToken = requireLinkToken(q.link_token);
      const target = durableTarget(q);
      const session = await guard(() => services.durableLinking.openDurableSession(linkToken, target));
      if (session.step === "select_retailer") return sendPage(reply, retailerSelectPage({ linkToken, redirectUrl, retailers: session.retailers }), redirectUrl);
      setNonce();
      const csrfToken = tokens.mac(CSRF_PURPOSE, nonce, `link_token:${session.token.id}`, redirectUrl ?? "", targetKey(target));
      return sendPage(reply, linkFormPage({ retailerName: session.retailer.name, hidden: durableHidden(linkToken, target), redirectUrl, csrfToken }), redirectUrl);
    },
  });

  app.post("/link", {
    schema: {
      tags: ["connections"],
      summary: "Submit the hosted link form (HTML)",
      security: [],
      body: LinkForm,
      consumes: ["application/x-www-form-urlencoded"],
      produces: ["text/html"],
      response: { 200: HTML_PAGE, 422: { ...HTML_PAGE, description: "The form again, saying what the retailer refused (HTML)" }, 503: { ...HTML_PAGE, description: "The retailer could not be reached (HTML)" } },
    },
    handler: async (request, reply) => {
      const form = request.body;
      assertSameOrigin(request);
      const redirectUrl = parseRedirectUrl(form.redirect_url);
      if (form.connection_token === undefined) return submitDurable(request, reply, redirectUrl);
      const connectionToken = form.connection_token;
      const claims = await services.authThrottle.guard(clientAddress(request.ip), () => tokens.verify(connectionToken));
      const nonce = readCookie(request, CSRF_COOKIE);
      if (!nonce || !tokens.verifyMac(form.csrf_token, CSRF_PURPOSE, nonce, claims.tokenId, redirectUrl ?? "")) throw csrfFailed();
      const view = { hidden: { connection_token: connectionToken }, redirectUrl, csrfToken: form.csrf_token, username: form.username };

      const username = form.username.trim();
      if (!acceptableLogin(username, form.password)) {
        const session = await services.connectionLinking.openLinkSession(connectionToken);
        return sendPage(reply.status(422), linkFormPage({ ...view, retailerName: session.retailer.name, error: LOGIN_SHAPE_ERROR }), redirectUrl);
      }

      const result = await services.connectionLinking.completeLink(connectionToken, { username, password: form.password }, request.log);
      request.log.info({ connection_id: claims.connectionId, outcome: result.outcome }, "link attempt");
      if (result.outcome === "linked") return linked(reply, result.session.retailer.name, result.connection.connection_id, redirectUrl);
      const retailerName = result.session.retailer.name;
      const error = result.outcome === "refused" ? result.reason : `${retailerName} is not answering right now. Please try again in a moment.`;
      return sendPage(reply.status(result.outcome === "refused" ? 422 : 503), linkFormPage({ ...view, retailerName, error }), redirectUrl);
    },
  });

  /** POST /link with a durable link token: re-authenticate connection_id, or link retailer_id. */
  async function submitDurable(request: FastifyRequest, reply: FastifyReply, redirectUrl: string | null) {
    const form = request.body as Static<typeof LinkForm>;
    const linkToken = requireLinkToken(form.link_token);
    const target = durableTarget(form);
    const session = await services.authThrottle.guard(clientAddress(request.ip), () => services.durableLinking.openDurableSession(linkToken, target));
    const nonce = readCookie(request, CSRF_COOKIE);
    if (!nonce || !tokens.verifyMac(form.csrf_token, CSRF_PURPOSE, nonce, `link_token:${session.token.id}`, redirectUrl ?? "", targetKey(target))) throw csrfFailed();
    if (session.step !== "login") throw new ValidationError("Choose a retailer first.", { param: "retailer_id" });
    const view = { hidden: durableHidden(linkToken, target), redirectUrl, csrfToken: form.csrf_token, username: form.username, retailerName: session.retailer.name };
    const username = form.username.trim();
    if (!acceptableLogin(username, form.password)) return sendPage(reply.status(422), linkFormPage({ ...view, error: LOGIN_SHAPE_ERROR }), redirectUrl);

    const result = await services.durableLinking.completeDurableLink(linkToken, target, { username, password: form.password }, request.log);
    request.log.info({ link_token_id: session.token.id, outcome: result.outcome }, "link attempt");
    if (result.outcome === "linked") return linked(reply, result.retailer.name, result.connection.connection_id, redirectUrl);
    const error = result.outcome === "refused" ? result.reason : `${result.retailer.name} is not answering right now. Please try again in a moment.`;
    return sendPage(reply.status(result.outcome === "refused" ? 422 : 503), linkFormPage({ ...view, error }), redirectUrl);
  }
}

const LOGIN_SHAPE_ERROR = `Enter your username and password (at most ${CREDENTIAL_MAX} characters each).`;

function acceptableLogin(username: string, password: string): boolean {
  return username !== "" && password !== "" && username.length <= CREDENTIAL_MAX && password.length <= CREDENTIAL_MAX;
}

function csrfFailed(): PermissionError {
  return new PermissionError("csrf_failed", "This form was not sent from the link page, or your browser blocked its cookie. Open the link again.");
}

function linked(reply: FastifyReply, retailerName: string, connectionId: string, redirectUrl: string | null) {
  if (!redirectUrl) return sendPage(reply, linkSuccessPage(retailerName), null);
  const target = new URL(redirectUrl);
  target.searchParams.set("connection_id", connectionId);
  return reply.header("cache-control", "no-store").header("referrer-policy", "no-referrer").redirect(target.toString(), 303);
}

function requireLinkToken(linkToken: string | undefined): string {
  if (linkToken === undefined) throw new ValidationError("Open this page with a connection_token or a link_token.", { param: "link_token" });
  return linkToken;
}

function durableTarget(q: { connection_id?: string; retailer_id?: string }): DurableTarget {
  if (q.connection_id !== undefined) return { connectionId: q.connection_id };
  return q.retailer_id !== undefined ? { retailerId: q.retailer_id } : {};
}

/** What the form's CSRF token is bound to besides the token: the connection or retailer being linked. */
function targetKey(t: DurableTarget): string {
  return t.connectionId !== undefined ? `connection:${t.connectionId}` : `retailer:${t.retailerId ?? ""}`;
}

function durableHidden(linkToken: string, t: DurableTarget): Record<string, string> {
  return { link_token: linkToken, ...(t.connectionId !== undefined ? { connection_id: t.connectionId } : { retailer_id: t.retailerId! }) };
}

/** An absolute http(s) URL without embedded credentials, or null when none was given. */
function parseRedirectUrl(raw: string | undefined): string | null {
  if (raw === undefined || raw === "") return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError("redirect_url must be an absolute http or https URL.", { param: "redirect_url" });
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.username !== "" || url.password !== "") {
    throw new ValidationError("redirect_url must be an absolute http or https URL.", { param: "redirect_url" });
  }
  return url.toString();
}

/** The form may only be posted from this origin's own page. */
function assertSameOrigin(request: FastifyRequest): void {
  const site = request.headers["sec-fetch-site"];
  let sameOrigin = site === undefined || site === "same-origin" || site === "none";
  const origin = request.headers.origin;
  // The page is served with Referrer-Policy no-referrer, so a browser posts its form with Origin "null": then only Sec-Fetch-Site can say it is ours.
  if (origin === "null") sameOrigin = site === "same-origin";
  else if (origin !== undefined) {
    try {
      // Parsed with the origin's scheme, so "host:80" and "host" compare equal over http.
      const from = new URL(origin);
      sameOrigin &&= new URL(`${from.protocol}//${request.headers.host ?? ""}`).host === from.host;
    } catch {
      sameOrigin = false;
    }
  }
  if (!sameOrigin) throw new PermissionError("cross_site_form", "This form can only be sent from the link page itself.");
}

function readCookie(request: FastifyRequest, name: string): string | null {
  for (const part of (request.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** The link page's answer to an error, as a page in its own style: its routes' errors, and errors under /link outside them (errors-by-path.ts). */
export function linkErrorAnswer(err: unknown): { status: number; html: string; retryAfter: number | null } {
  const e = normalizeError(err);
  const status = e.status === 422 ? 400 : e.status;
  const message = status >= 500 && status !== 501 ? "Something went wrong on our side. Please try again later." : e.message;
  return { status, html: linkErrorPage(TITLES[status] ?? "Something went wrong", message), retryAfter: typeof e.meta?.retry_after === "number" ? e.meta.retry_after : null };
}

export function sendLinkError(request: FastifyRequest, reply: FastifyReply, err: unknown) {
  const answer = linkErrorAnswer(err);
  if (answer.status >= 500 && answer.status !== 501) request.log.error({ err }, "link page failed");
  if (answer.retryAfter !== null) reply.header("retry-after", String(answer.retryAfter));
  return sendPage(reply.status(answer.status), answer.html, null);
}

/** An HTML page that nothing may frame, cache, or leak the token-bearing URL from. */
function sendPage(reply: FastifyReply, html: string, redirectUrl: string | null) {
  const formAction = redirectUrl ? `'self' ${new URL(redirectUrl).origin}` : "'self'";
  const csp = `default-src 'none'; style-src ${STYLE_HASH}; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`;
  return setPageHeaders(reply.header("content-type", "text/html; charset=utf-8"), { csp }).send(html);
}
