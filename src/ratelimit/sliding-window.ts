/**
 * The sliding-window counter behind every rate limit, as pure arithmetic.
 * Each window (60 s for the per-minute limit, 1 s for the burst) is kept as
 * the count of the current fixed window plus the count of the previous one;
 * the estimate of "requests in the last window" weighs the previous count by
 * how much of the previous window still lies inside the sliding one. The
 * stores (PostgreSQL function, Redis script) take the admission decision
 * atomically with the same formula; this module turns their counts into the
 * numbers a client sees.
 */

export const MINUTE_MS = 60_000;
export const SECOND_MS = 1_000;

export interface RateLimit {
  perMinute: number;
  burst: number;
}

/** What a store answers for one request: the decision and the counts after it. */
export interface WindowCounts {
  allowed: boolean;
  minutePrev: number;
  minuteCount: number;
  secondPrev: number;
  secondCount: number;
}

export interface RateLimitVerdict {
  allowed: boolean;
  limit: number;
  /** Requests that would be admitted right now (both windows considered). */
  remaining: number;
  /** Seconds until the current one-minute window ends. */
  resetSeconds: number;
  /** When the current one-minute window ends, as a Unix timestamp in seconds (X-RateLimit-Reset). */
  resetAt: number;
  /** Rejected only: seconds until one more request would be admitted. */
  retryAfterSeconds: number;
}

function estimate(prev: number, current: number, nowMs: number, windowMs: number): number {
  const elapsed = (nowMs % windowMs) / windowMs;
  return prev * (1 - elapsed) + current;
}

/** The same test the stores apply: room for one more in the window. */
export function admits(prev: number, current: number, limit: number, nowMs: number, windowMs: number): boolean {
  return estimate(prev, current, nowMs, windowMs) + 1 <= limit;
}

/**
 * Milliseconds until the window admits one more request, if nothing else is
 * admitted meanwhile. The estimate only falls with time (the previous count
 * fades out, then the current one becomes the previous), so solving for the
 * first moment it drops to limit − 1 is exact.
 */
export function msUntilAdmitted(prev: number, current: number, limit: number, nowMs: number, windowMs: number): number {
  if (admits(prev, current, limit, nowMs, windowMs)) return 0;
  const elapsed = (nowMs % windowMs) / windowMs;
  if (current + 1 <= limit && prev > 0) {
    // Within this window, once enough of the previous count has faded.
    return (1 - (limit - 1 - current) / prev - elapsed) * windowMs;
  }
  // Only in the next window, where this window's count fades in turn.
  const toNextWindow = windowMs - (nowMs % windowMs);
  return toNextWindow + Math.max(0, 1 - (limit - 1) / current) * windowMs;
}

export function verdict(counts: WindowCounts, limit: RateLimit, nowMs: number): RateLimitVerdict {
  const minuteLeft = limit.perMinute - estimate(counts.minutePrev, counts.minuteCount, nowMs, MINUTE_MS);
  const secondLeft = limit.burst - estimate(counts.secondPrev, counts.secondCount, nowMs, SECOND_MS);
  const waitMs = counts.allowed
    ? 0
    : Math.max(
        msUntilAdmitted(counts.minutePrev, counts.minuteCount, limit.perMinute, nowMs, MINUTE_MS),
        msUntilAdmitted(counts.secondPrev, counts.secondCount, limit.burst, nowMs, SECOND_MS),
      );
  return {
    allowed: counts.allowed,
    limit: limit.perMinute,
    remaining: Math.max(0, Math.floor(Math.min(minuteLeft, secondLeft))),
    resetSeconds: Math.ceil((MINUTE_MS - (nowMs % MINUTE_MS)) / 1000),
    resetAt: (nowMs - (nowMs % MINUTE_MS) + MINUTE_MS) / 1000,
    retryAfterSeconds: counts.allowed ? 0 : Math.max(1, Math.ceil(waitMs / 1000)),
  };
}
