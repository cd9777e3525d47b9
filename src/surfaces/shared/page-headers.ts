import type { FastifyReply } from "fastify";

/**
 * The security headers of every page Patchbay serves to a browser (the
 * console, the hosted link page, the Shopify callback page): its own CSP,
 * no sniffing, no framing, no referrer, and how it may be cached.
 */
export function setPageHeaders(reply: FastifyReply, { csp, cache = "no-store" }: { csp: string; cache?: "no-store" | "no-cache" }): FastifyReply {
  return reply
    .header("content-security-policy", csp)
    .header("x-content-type-options", "nosniff")
    .header("x-frame-options", "DENY")
    .header("referrer-policy", "no-referrer")
    .header("cache-control", cache);
}
