import type { Clock } from "../kernel/clock.ts";
import { AuthenticationError, AuthThrottledError } from "../kernel/errors.ts";
import type { RateLimiter } from "./limiter.ts";
import { MINUTE_MS, msUntilAdmitted } from "./sliding-window.ts";
import type { FailureCounts } from "./store.ts";

/** Addresses remembered as throttled per process: bounded, so a flood of addresses cannot grow it. */
const HINT_CAPACITY = 10_000;

/**
 * The brake on guessing credentials (issue 13, point 8): failed
 * authentications are counted per client address where the rate limits are
 * counted (PostgreSQL or Redis, shared by every process); an address over
 * `failuresPerMinute` in a sliding minute is refused with 429 before any
 * credential it sends is checked, so the refusal says nothing about the
 * credential.
 *
 * Only failures are written. Whether an address is throttled is read from the
 * store inside the statement (or script) that admits an API key anyway, so a
 * successful request pays no extra round trip. Credentials checked without
 * the database (the admin token, connection tokens) consult the store only
 * when they fail; before the check, `refuseIfThrottled` consults the
 * in-process hint. The hint is also what spares the store a flood: a hinted
 * address is refused without a query. See README "Failed authentications".
 */
export function createAuthThrottle({ limiter, clock, failuresPerMinute }: { limiter: RateLimiter; clock: Clock; failuresPerMinute: number }) {
  /** address → until when (ms) this process refuses it without asking the store. */
  const hints = new Map<string, number>();
  /** address → until when (ms) its requests are admitted only by asking the store (this process counted a failure of it within the minute). */
  const suspects = new Map<string, number>();

  function hint(address: string, retryAfterSeconds: number): void {
    hints.delete(address);
    if (hints.size >= HINT_CAPACITY) {
      const now = clock.now().getTime();
      for (const [a, until] of hints) if (until <= now) hints.delete(a);
      // Still full: forget the oldest. The store keeps the count; the hint only saves it a query.
      if (hints.size >= HINT_CAPACITY) hints.delete(hints.keys().next().value!);
    }
    hints.set(address, clock.now().getTime() + retryAfterSeconds * 1000);
  }

  const throttle = {
    failuresPerMinute,

    /** The 429 for an address the store found over its limit (remembered in this process until Retry-After). */
    refusal(address: string, counts: FailureCounts): AuthThrottledError {
      const nowMs = clock.now().getTime();
      const retryAfter = Math.max(1, Math.ceil(msUntilAdmitted(counts.prev, counts.count, failuresPerMinute, nowMs, MINUTE_MS) / 1000));
      hint(address, retryAfter);
      return new AuthThrottledError(retryAfter, failuresPerMinute);
    },

    /** A failure of the address was counted (here or by the admission statement). */
    noteFailure(address: string): void {
      suspects.delete(address);
      if (suspects.size >= HINT_CAPACITY) suspects.delete(suspects.keys().next().value!);
      suspects.set(address, clock.now().getTime() + MINUTE_MS);
    },

    /** Before a credential check: refuses an address this process recently saw throttled, without a query. */
    refuseIfThrottled(address: string): void {
      const until = hints.get(address);
      if (until === undefined) return;
      const leftMs = until - clock.now().getTime();
      if (leftMs <= 0) {
        hints.delete(address);
        return;
      }
      throw new AuthThrottledError(Math.ceil(leftMs / 1000), failuresPerMinute);
    },

    /**
     * Whether this process counted a failure of the address in the last
     * minute: then an API key's admission asks the store (which knows
     * whether the address is throttled) instead of admitting from memory.
     */
    suspect(address: string): boolean {
      const until = suspects.get(address);
      if (until === undefined) return false;
      if (until > clock.now().getTime()) return true;
      suspects.delete(address);
      return false;
    },

    /** After a failed check: counts it; the error to answer is the failure itself, or 429 once the address is over its limit. */
    async failed(address: string, failure: AuthenticationError): Promise<AuthenticationError | AuthThrottledError> {
      throttle.noteFailure(address);
      const counts = await limiter.failAuthentication(address, failuresPerMinute);
      return counts.throttled ? throttle.refusal(address, counts) : failure;
    },

    /** A credential check of an address, with the brake: hinted → 429; an AuthenticationError → counted, maybe 429. */
    async guard<T>(address: string, check: () => T | Promise<T>): Promise<T> {
      throttle.refuseIfThrottled(address);
      try {
        return await check();
      } catch (err) {
        if (err instanceof AuthenticationError) throw await throttle.failed(address, err);
        throw err;
      }
    },
  };
  return throttle;
}

export type AuthThrottle = ReturnType<typeof createAuthThrottle>;

/**
 * The address failures are counted under: the peer address of the socket
 * (trustProxy is off, so X-Forwarded-For is never believed). IPv4-mapped IPv6
 * is its IPv4; other IPv6 addresses count per /64, the block one host or
 * customer line usually gets, so walking through its addresses does not
 * reset the count.
 */
export function clientAddress(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!ip.includes(":")) return ip;
  const bare = ip.replace(/%.*$/, "").toLowerCase();
  const [head = "", tail] = bare.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(Math.max(0, 8 - headGroups.length - tailGroups.length)).fill("0"), ...tailGroups];
  const prefix = groups.slice(0, 4).map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16).toString(16) : g));
  return `${prefix.join(":")}::/64`;
}
