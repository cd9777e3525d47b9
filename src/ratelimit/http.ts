import type { FastifyReply, FastifyRequest } from "fastify";
import { RateLimitError } from "../kernel/errors.ts";
import type { RateLimitCheck } from "./limiter.ts";
import type { RateLimit } from "./sliding-window.ts";

/**
 * For the auth hook of an API-key surface, once the request is admitted
 * (key known, request counted): puts X-RateLimit-* on the reply (they stay on
 * whatever answer follows, errors included), and refuses with 429
 * rate_limit_exceeded (+ Retry-After, set by the surface's error renderer)
 * over the limit.
 */
export function applyRateLimit(check: RateLimitCheck, limit: RateLimit, request: FastifyRequest, reply: FastifyReply): void {
  if (check.fallbackReason) request.log.warn({ reason: check.fallbackReason }, "rate-limit store unavailable");
  reply.header("x-ratelimit-limit", String(check.limit));
  reply.header("x-ratelimit-remaining", String(check.remaining));
  reply.header("x-ratelimit-reset", String(check.resetAt));
  if (!check.allowed) throw new RateLimitError(check.retryAfterSeconds, limit);
}
