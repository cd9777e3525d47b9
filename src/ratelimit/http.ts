import type { FastifyReply, FastifyRequest } from "fastify";
import { RateLimitError } from "../services/errors.ts";
import type { RateLimiter } from "./limiter.ts";
import type { RateLimit } from "./sliding-window.ts";

/**
 * For the auth hook of an API-key surface, right after the key is known:
 * counts the request, puts X-RateLimit-* on the reply (they stay on whatever
 * answer follows, errors included), and refuses with 429 rate_limit_exceeded
 * (+ Retry-After, set by the surface's error renderer) over the limit.
 */
export async function enforceRateLimit(
  limiter: RateLimiter,
  key: { keyId: string; rateLimit: RateLimit },
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const check = await limiter.check(key.keyId, key.rateLimit);
  if (check.fallbackReason) request.log.warn({ reason: check.fallbackReason }, "rate-limit store unavailable");
  reply.header("x-ratelimit-limit", String(check.limit));
  reply.header("x-ratelimit-remaining", String(check.remaining));
  reply.header("x-ratelimit-reset", String(check.resetSeconds));
  if (!check.allowed) throw new RateLimitError(check.retryAfterSeconds, key.rateLimit);
}
