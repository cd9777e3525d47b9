import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import type * as IORedis from "ioredis";
import type { RateLimitStore } from "./store.ts";

/** ioredis is loaded only when REDIS_URL is set: importing it cost every start-up ~100 ms (BENCHMARKS.md). */
const requireModule = createRequire(import.meta.url);

/**
 * The `rate_limit_take` function of migration 0005, step for step, as a Redis
 * script (one hash per key, which expires two minutes after its last use).
 * Redis runs a script atomically, so every process sees one count. With a
 * second key (the client address's failures, ARGV[4] its limit) it first
 * does what `auth_failures_peek` (migration 0012) does: an address over its
 * limit is refused without counting the key.
 */
const TAKE_SCRIPT = `
local now = tonumber(ARGV[1])
local per_minute = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
if KEYS[2] then
  local fm = math.floor(now / 60000)
  local f = redis.call('HMGET', KEYS[2], 'mi', 'mc', 'mp')
  local fmi, fp, fc = tonumber(f[1]), 0, 0
  if fmi == nil then
  elseif fmi >= fm then fp = tonumber(f[3]) or 0; fc = tonumber(f[2]) or 0
  elseif fmi == fm - 1 then fp = tonumber(f[2]) or 0
  end
  if not (fp * (1 - (now % 60000) / 60000) + fc + 1 <= tonumber(ARGV[4])) then
    return {0, 0, 0, 0, 0, 1, fp, fc}
  end
end
local m = math.floor(now / 60000)
local s = math.floor(now / 1000)
local mf = (now % 60000) / 60000
local sf = (now % 1000) / 1000
local v = redis.call('HMGET', KEYS[1], 'mi', 'mc', 'mp', 'si', 'sc', 'sp')
local wmi, wmc, wmp = tonumber(v[1]), tonumber(v[2]) or 0, tonumber(v[3]) or 0
local wsi, wsc, wsp = tonumber(v[4]), tonumber(v[5]) or 0, tonumber(v[6]) or 0
local mp, mc, sp, sc = 0, 0, 0, 0
if wmi == nil then
elseif wmi >= m then m = wmi; mp = wmp; mc = wmc
elseif wmi == m - 1 then mp = wmc
end
if wsi == nil then
elseif wsi >= s then s = wsi; sp = wsp; sc = wsc
elseif wsi == s - 1 then sp = wsc
end
local ok = (mp * (1 - mf) + mc + 1 <= per_minute) and (sp * (1 - sf) + sc + 1 <= burst)
if ok then
  mc = mc + 1
  sc = sc + 1
end
redis.call('HSET', KEYS[1], 'mi', m, 'mc', mc, 'mp', mp, 'si', s, 'sc', sc, 'sp', sp)
redis.call('PEXPIRE', KEYS[1], 120000)
return {ok and 1 or 0, mp, mc, sp, sc, 0, 0, 0}
`;

/** `auth_failures_take` (migration 0012) step for step: one failed authentication of an address. */
const FAIL_SCRIPT = `
local now = tonumber(ARGV[1])
local per_minute = tonumber(ARGV[2])
local m = math.floor(now / 60000)
local v = redis.call('HMGET', KEYS[1], 'mi', 'mc', 'mp')
local wmi, wmc, wmp = tonumber(v[1]), tonumber(v[2]) or 0, tonumber(v[3]) or 0
local mp, mc = 0, 0
if wmi == nil then
elseif wmi >= m then m = wmi; mp = wmp; mc = wmc
elseif wmi == m - 1 then mp = wmc
end
local ok = mp * (1 - (now % 60000) / 60000) + mc + 1 <= per_minute
if ok then mc = mc + 1 end
redis.call('HSET', KEYS[1], 'mi', m, 'mc', mc, 'mp', mp)
redis.call('PEXPIRE', KEYS[1], 120000)
return {ok and 0 or 1, mp, mc}
`;

type TakeReply = [number, number, number, number, number, number, number, number];
type FailReply = [number, number, number];

export function createRedisRateLimitStore(url: string, keyPrefix: string): RateLimitStore {
  // No offline queue and one try per command: while Redis is away a command
  // fails at once, and the limiter counts in PostgreSQL instead of waiting. The
  // timeout only bounds a connection that hangs without closing.
  const { Redis } = requireModule("ioredis") as typeof IORedis;
  const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000, connectTimeout: 2000 });
  // Connection errors surface on the commands that fail; the limiter reports them.
  redis.on("error", () => {});
  // EVALSHA sends 40 bytes instead of the script; a Redis that has not seen it yet gets it once.
  const shas = new Map([TAKE_SCRIPT, FAIL_SCRIPT].map((script) => [script, sha1(script)]));
  const run = <T>(script: string, keys: string[], args: number[]): Promise<T> => {
    return redis.evalsha(shas.get(script)!, keys.length, ...keys, ...args).catch((err: Error) => {
      if (!/NOSCRIPT/.test(err.message)) throw err;
      return redis.eval(script, keys.length, ...keys, ...args);
    }) as Promise<T>;
  };
  const failuresKey = (address: string) => `${keyPrefix}authfail:${address}`;

  return {
    name: "redis",
    async take(apiKeyId, nowMs, limit, guard) {
      const keys = [`${keyPrefix}ratelimit:${apiKeyId}`, ...(guard ? [failuresKey(guard.address)] : [])];
      const [allowed, minutePrev, minuteCount, secondPrev, secondCount, throttled, prev, count] = await run<TakeReply>(TAKE_SCRIPT, keys, [
        nowMs,
        limit.perMinute,
        limit.burst,
        ...(guard ? [guard.failuresPerMinute] : []),
      ]);
      return { allowed: allowed === 1, minutePrev, minuteCount, secondPrev, secondCount, ...(throttled === 1 ? { throttled: { throttled: true, prev, count } } : {}) };
    },
    async failAuthentication(address, nowMs, failuresPerMinute) {
      const [throttled, prev, count] = await run<FailReply>(FAIL_SCRIPT, [failuresKey(address)], [nowMs, failuresPerMinute]);
      return { throttled: throttled === 1, prev, count };
    },
    // Waits for the first connection attempt to succeed or fail, so the first
    // requests do not fall back to PostgreSQL merely because Redis is still connecting.
    ready: () =>
      new Promise<void>((resolve) => {
        if (redis.status === "ready") return resolve();
        const done = () => {
          clearTimeout(timer);
          redis.off("ready", done);
          redis.off("error", done);
          resolve();
        };
        const timer = setTimeout(done, 10_000);
        redis.once("ready", done);
        redis.once("error", done);
      }),
    close: async () => {
      redis.disconnect();
    },
  };
}

function sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}
