import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { setPageHeaders } from "../shared/page-headers.ts";
import { v1Hint } from "./errors.ts";
import { SHOPIFY_CALLBACK_PATH } from "../../public-paths.ts";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { DomainError } from "../../kernel/errors.ts";
import type { Services } from "../../compose.ts";
import type { ConnectorRow } from "../../services/connector-row.ts";
import { flatErrorBody } from "../shared/flat-errors.ts";
import { normalizeError, type NormalizedError } from "../shared/http-errors.ts";
import { ConnectorEnvelope, errorResponses } from "./schemas.ts";

const tags = ["integrations"];

const Param = (description: string) => Type.Union([Type.String(), Type.Array(Type.String())], { description });

/** Shopify's OAuth callback. Authenticated by Shopify's signature and our state, not by an API key. */
export async function shopifyRoutes(root: FastifyInstance, { services }: { services: Services }) {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.get(SHOPIFY_CALLBACK_PATH, {
    schema: {
      tags,
      summary: "Shopify OAuth callback (Shopify redirects the merchant's browser here)",
      operationId: "shopifyOAuthCallback",
      security: [],
      description:
        "Verifies the hmac (HMAC-SHA256 of the other parameters under the app's client secret), the single-use state (10 minutes, bound to the entity, " +
        "the connector and the shop) and the shop, exchanges the code for expiring offline tokens, seals them, and activates the connector. " +
        "Browsers (Accept: text/html) get a page, other clients JSON. Every failure is a 4xx naming the reason (a 502 if Shopify is unreachable), and the connector is left as it was.",
      // Documented, not enforced here: the service checks the raw parameters so every failure gets its own reason.
      querystring: Type.Object(
        {
          code: Type.Optional(Param("The authorization code (single use)")),
          hmac: Type.Optional(Param("Shopify's signature of the other parameters")),
          shop: Type.Optional(Param("The shop's myshopify.com domain")),
          state: Type.Optional(Param("The state from oauth_url")),
          timestamp: Type.Optional(Param("When Shopify signed the redirect")),
          host: Type.Optional(Param("Base64 of the shop's admin host")),
        },
        { additionalProperties: true },
      ),
      response: { 200: ConnectorEnvelope, ...errorResponses(400, 403, 409, 501, 502) },
    },
    handler: async (request, reply) => {
      // The signature covers the parameters exactly as sent: read them from the raw URL, not the parsed object.
      const raw = request.raw.url ?? "";
      const query = new URLSearchParams(raw.includes("?") ? raw.slice(raw.indexOf("?") + 1) : "");
      reply.header("cache-control", "no-store").header("referrer-policy", "no-referrer");
      try {
        const row = await services.shopifyOAuth.completeAuthorization(query);
        if (wantsHtml(request)) return sendPage(reply, 200, connectedPage(row, query.get("shop") ?? ""));
        return { data: row };
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        const e = normalizeError(err, v1Hint);
        if (wantsHtml(request)) return sendPage(reply, e.status, failedPage(e, request.id));
        return (reply as FastifyReply).status(e.status).send(flatErrorBody(e, request.id));
      }
    },
  });
}

function wantsHtml(request: FastifyRequest): boolean {
  return /\btext\/html\b/.test(request.headers.accept ?? "");
}

function sendPage(reply: FastifyReply, status: number, html: string) {
  return setPageHeaders(reply.status(status).header("content-type", "text/html; charset=utf-8"), { csp: "default-src 'none'; style-src 'unsafe-inline'" }).send(html);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
    `<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}code{background:#eee;padding:0 .25rem}</style></head>` +
    `<body>${body}</body></html>`;
}

function connectedPage(row: ConnectorRow, shop: string): string {
  return page("Shopify connected", `<h1>Shopify is connected</h1><p>${escapeHtml(shop)} is now connected to Patchbay as “${escapeHtml(row.display_name)}”. You can close this window.</p>`);
}

function failedPage(e: NormalizedError, requestId: string): string {
  return page(
    "Shopify was not connected",
    `<h1>Shopify was not connected</h1><p>${escapeHtml(e.message)}</p><p>Reason: <code>${escapeHtml(e.code)}</code></p>` +
      (e.hint ? `<p>${escapeHtml(e.hint)}</p>` : "") +
      `<p>Request id: <code>${escapeHtml(requestId)}</code></p>`,
  );
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
