import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import type { LightMyRequestResponse } from "fastify";
import { Redis } from "ioredis";
import { buildApp } from "../src/app.ts";
import { ConfigError, loadConfig } from "../src/config.ts";
import { openDatabase } from "../src/db/index.ts";
import { msUntilAdmitted, verdict, MINUTE_MS, SECOND_MS } from "../src/ratelimit/sliding-window.ts";
import { createServices } from "../src/compose.ts";
import { ADMIN_TOKEN, startTestApp, type TestApp } from "./helpers/app.ts";
import { ManualClock } from "./helpers/clock.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { addKey, asKey, createTenant } from "./helpers/fixtures.ts";

const REDIS_URL = "redis://127.0.0.1:6379";
const BACKENDS = ["postgres", "redis"] as const;
type Backend = (typeof BACKENDS)[number];

/** Low limits so the tests reach them in a handful of requests. */
const LOW_LIMITS = {
  PATCHBAY_RATE_LIMIT_LIVE_PER_MINUTE: "20",
  PATCHBAY_RATE_LIMIT_LIVE_BURST: "5",
  PATCHBAY_RATE_LIMIT_TEST_PER_MINUTE: "8",
  PATCHBAY_RATE_LIMIT_TEST_BURST: "3",
};

function backendEnv(backend: Backend): Record<string, string> {
  // A prefix of its own per app: parallel test files share the one Redis.
  return backend === "redis" ? { REDIS_URL, PATCHBAY_REDIS_PREFIX: `patchbay-test-${randomBytes(6).toString("hex")}:` } : {};
}

/** A clock on a whole minute, so window arithmetic in the tests is easy to follow. */
const alignedClock = () => new ManualClock("2030-01-01T00:00:00.000Z");

function rateHeaders(res: LightMyRequestResponse) {
  return {
    limit: Number(res.headers["x-ratelimit-limit"]),
    remaining: Number(res.headers["x-ratelimit-remaining"]),
    reset: Number(res.headers["x-ratelimit-reset"]),
  };
}

/** X-RateLimit-Reset is the Unix time (s) the current minute window ends (docs.arcuserp.com/concepts/rate-limits). */
function assertRateHeaders(res: LightMyRequestResponse, limit: number, nowMs: number): void {
  for (const h of ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"]) assert.match(String(res.headers[h]), /^\d+$/, `${h} on ${res.statusCode}: ${res.body}`);
  const r = rateHeaders(res);
  assert.equal(r.limit, limit);
  assert.equal(r.reset, (nowMs - (nowMs % MINUTE_MS) + MINUTE_MS) / 1000, `reset ${r.reset} at ${new Date(nowMs).toISOString()}`);
}

function assert429(res: LightMyRequestResponse): number {
  assert.equal(res.statusCode, 429, res.body);
  assert.equal(res.json().code, "rate_limit_exceeded");
  assert.equal(res.json().type, "rate_limit");
  assert.equal(res.json().error, "rate_limit_exceeded");
  assert.equal(res.json().hint, `Rate limit exceeded. Retry after ${res.headers["retry-after"]} seconds.`);
  assert.equal(typeof res.json().request_id, "string");
  assert.equal(res.headers["x-ratelimit-remaining"], "0");
  const retryAfter = Number(res.headers["retry-after"]);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After ${res.headers["retry-after"]}`);
  return retryAfter;
}

/** A second server on the same database (and Redis), as another process would be: its own pool, its own services. */
async function secondServer(t: TestApp) {
  const own = t.kind === "postgres" ? await openDatabase({ kind: "postgres", url: t.database.url!, poolSize: 3 }) : null;
  const db = own?.db ?? t.database.db;
  const services = createServices({ db, clock: t.clock, config: t.config });
  const app = await buildApp({ config: t.config, db, services, adminToken: ADMIN_TOKEN, logStream: new Writable({ write: (_c, _e, cb) => cb() }) });
  await app.ready();
  return {
    inject: (key: string, url = "/v1/integrations/catalog") => app.inject({ method: "GET", url, headers: { authorization: `Bearer ${key}` } }),
    close: async () => {
      await app.close();
      await own?.close();
    },
  };
}

describe("rate-limit and idempotency settings are checked at start", () => {
  it("defaults run; a bad value names its variable", () => {
    const config = loadConfig({});
    assert.deepEqual(config.rateLimits, { live: { perMinute: 300, burst: 50 }, test: { perMinute: 60, burst: 10 } });
    assert.equal(config.faultCrash, null, "the crash switch is off unless set");
    assert.equal(config.redisUrl, null);
    assert.equal(config.redisKeyPrefix, "patchbay:");
    for (const [name, value] of [["PATCHBAY_FAULT_CRASH", "after_lunch:0.5"], ["PATCHBAY_FAULT_CRASH", "after_commit:2"], ["PATCHBAY_RATE_LIMIT_TEST_BURST", "many"], ["REDIS_URL", "http://127.0.0.1:6379"]] as const) {
      assert.throws(() => loadConfig({ [name]: value }), (err: unknown) => err instanceof ConfigError && err.variable === name, name);
    }
  });
});

describe("the sliding window arithmetic", () => {
  it("weighs the previous window by the share of it still inside the sliding one", () => {
    const at = (ms: number) => Date.UTC(2030, 0, 1) + ms;
    // 30 s into a minute: 10 of the previous minute count half.
    const v = verdict({ allowed: true, minutePrev: 10, minuteCount: 5, secondPrev: 0, secondCount: 1 }, { perMinute: 20, burst: 5 }, at(30_000));
    assert.equal(v.remaining, 4, "min(20 − (5 + 10/2), 5 − 1)");
    assert.equal(v.resetSeconds, 30);
  });

  it("answers the exact wait until one more request is admitted", () => {
    const t0 = Date.UTC(2030, 0, 1);
    assert.equal(msUntilAdmitted(0, 2, 5, t0, SECOND_MS), 0);
    // The second is full (5 of 5): admitted once 1/5 of it has faded in the next second.
    assert.equal(msUntilAdmitted(0, 5, 5, t0 + 500, SECOND_MS), 500 + 200);
    // 10 last minute, 5 now, limit 10, at 30 s: estimate 10; needs prev × (1 − f) ≤ 4 → f = 0.6.
    assert.ok(Math.abs(msUntilAdmitted(10, 5, 10, t0 + 30_000, MINUTE_MS) - 6_000) < 1e-6);
    const rejected = verdict({ allowed: false, minutePrev: 0, minuteCount: 20, secondPrev: 0, secondCount: 0 }, { perMinute: 20, burst: 5 }, t0 + 15_000);
    assert.equal(rejected.remaining, 0);
    assert.equal(rejected.retryAfterSeconds, 45 + 3, "the rest of this minute, then 1/20 of the next");
  });
});

for (const kind of DB_KINDS) {
  for (const backend of BACKENDS) {
    describe(`[${kind}] rate limits per API key, counted in ${backend} (SPEC §2)`, () => {
      let t: TestApp;
      before(async () => {
        t = await startTestApp(kind, { env: { ...LOW_LIMITS, ...backendEnv(backend) }, clock: alignedClock() });
        assert.equal(t.services.rateLimiter.store, backend);
      });
      after(async () => t.close());

      describe("every response to a known key carries X-RateLimit-Limit, -Remaining and -Reset", () => {
        it("on successes, errors and replays alike, Remaining counting down", async () => {
          const tenant = await createTenant(t);
          const call = asKey(t, tenant);
          const answers = [
            await call("GET", "/v1/integrations/catalog"),
            await call("GET", "/v1/integrations/stripe"),
            await call("POST", "/v1/integrations/stripe", { colour: "red" }),
          ];
          t.clock.advance(2000);
          answers.push(await call("POST", "/v1/integrations/stripe", {}, { "idempotency-key": "k1" }));
          answers.push(await call("POST", "/v1/integrations/stripe", {}, { "idempotency-key": "k1" }));
          answers.push(await call("POST", "/v1/integrations/stripe"));
          t.clock.advance(2000);
          const readOnly = await addKey(t, tenant.entityId, { scopes: ["integrations:read"] });
          answers.push(await asKey(t, readOnly)("DELETE", "/v1/integrations/stripe"));
          assert.deepEqual(answers.map((r) => r.statusCode), [200, 404, 400, 201, 201, 409, 403]);
          assert.equal(answers[4]!.headers["idempotent-replayed"], "true");
          for (const r of answers) assertRateHeaders(r, 20, t.clock.now().getTime());
          assert.deepEqual(answers.slice(0, 3).map((r) => rateHeaders(r).remaining), [4, 3, 2], "the burst of 5 is the tighter bound");
        });

        it("every /v1 route carries them", async () => {
          const call = asKey(t, await createTenant(t));
          for (const [method, url] of [["GET", "/v1/integrations"], ["GET", "/v1/integrations/catalog"], ["POST", "/v1/integrations/postmark"], ["GET", "/v1/integrations/postmark"], ["PATCH", "/v1/integrations/postmark"], ["DELETE", "/v1/integrations/postmark"]] as const) {
            t.clock.advance(1000);
            const res = await call(method, url, method === "PATCH" ? { display_name: "P" } : undefined);
            assert.ok(res.statusCode < 300, `${method} ${url}: ${res.body}`);
            assertRateHeaders(res, 20, t.clock.now().getTime());
          }
        });
      });

      describe("over the limit → 429 rate_limit_exceeded with Retry-After", () => {
        it("more than the burst within one second is refused until Retry-After has passed", async () => {
          const call = asKey(t, await createTenant(t));
          for (let i = 0; i < 5; i++) assert.equal((await call("GET", "/v1/integrations/catalog")).statusCode, 200, `request ${i + 1}`);
          const refused = await call("POST", "/v1/integrations/stripe");
          const wait = assert429(refused);
          assert.ok(wait <= 2, `the burst window is the bound here, Retry-After ${wait}`);
          assertRateHeaders(refused, 20, t.clock.now().getTime());
          assert.equal((await call("GET", "/v1/integrations/stripe")).statusCode, 429, "refused requests do not execute");
          t.clock.advance(wait * 1000);
          assert.equal((await call("GET", "/v1/integrations/catalog")).statusCode, 200);
        });

        it("more than the per-minute limit over a sliding minute is refused, then admitted again", async () => {
          const call = asKey(t, await createTenant(t));
          t.clock.advance(MINUTE_MS - (t.clock.now().getTime() % MINUTE_MS));
          // Bursts of 5, two seconds apart: a second after a full burst, most of it still counts.
          for (let i = 0; i < 20; i++) {
            if (i % 5 === 0) t.clock.advance(2000);
            assert.equal((await call("GET", "/v1/integrations/catalog")).statusCode, 200, `request ${i + 1}`);
          }
          t.clock.advance(1000);
          const wait = assert429(await call("GET", "/v1/integrations/catalog"));
          assert.ok(wait > 50, `the minute is the bound here, Retry-After ${wait}`);
          // Crossing into the next minute is not enough: the previous minute still counts, fading.
          t.clock.advance(MINUTE_MS - (t.clock.now().getTime() % MINUTE_MS) + 100);
          assert429(await call("GET", "/v1/integrations/catalog"));
          t.clock.advance(wait * 1000);
          assert.equal((await call("GET", "/v1/integrations/catalog")).statusCode, 200);
        });

        it("each key has its own budget", async () => {
          const tenant = await createTenant(t);
          const other = await addKey(t, tenant.entityId);
          t.clock.advance(1000);
          for (let i = 0; i < 5; i++) await asKey(t, tenant)("GET", "/v1/integrations/catalog");
          assert429(await asKey(t, tenant)("GET", "/v1/integrations/catalog"));
          assert.equal((await asKey(t, other)("GET", "/v1/integrations/catalog")).statusCode, 200);
        });

        it("requests without a valid key are not counted against anyone (401 carries no rate headers)", async () => {
          const res = await t.request({ method: "GET", url: "/v1/integrations", headers: { authorization: `Bearer ark_live_ent_${"A".repeat(40)}` } });
          assert.equal(res.statusCode, 401);
          assert.equal(res.headers["x-ratelimit-limit"], undefined);
        });
      });

      describe("limits are per key: the mode's default, or the key's own set at creation", () => {
        it("a test key gets the test default, a live key the live default", async () => {
          const live = await createTenant(t);
          const test = await addKey(t, live.entityId, { mode: "test" });
          t.clock.advance(1000);
          assertRateHeaders(await asKey(t, live)("GET", "/v1/integrations"), 20, t.clock.now().getTime());
          const testAnswers = [];
          for (let i = 0; i < 4; i++) testAnswers.push(await asKey(t, test)("GET", "/v1/integrations"));
          assertRateHeaders(testAnswers[0]!, 8, t.clock.now().getTime());
          assert.deepEqual(testAnswers.map((r) => r.statusCode), [200, 200, 200, 429], "test burst is 3");
        });

        it("POST /admin/v1/entities/{id}/api-keys takes rate_limit {per_minute, burst}", async () => {
          const tenant = await createTenant(t);
          const res = await t.admin("POST", `/admin/v1/entities/${tenant.entityId}/api-keys`, { name: "slow", mode: "live", scopes: ["integrations:read"], rate_limit: { per_minute: 4, burst: 2 } });
          assert.equal(res.statusCode, 201, res.body);
          assert.deepEqual(res.json().rate_limit, { per_minute: 4, burst: 2 });
          const listed = (await t.admin("GET", `/admin/v1/entities/${tenant.entityId}/api-keys`)).json().data.find((k: { id: string }) => k.id === res.json().id);
          assert.deepEqual(listed.rate_limit, { per_minute: 4, burst: 2 });
          const call = asKey(t, { key: res.json().key });
          t.clock.advance(1000);
          const a = await call("GET", "/v1/integrations");
          assertRateHeaders(a, 4, t.clock.now().getTime());
          assert.equal((await call("GET", "/v1/integrations")).statusCode, 200);
          assert429(await call("GET", "/v1/integrations"));
          t.clock.advance(2000);
          assert.equal((await call("GET", "/v1/integrations")).statusCode, 200);
          t.clock.advance(2000);
          assert.equal((await call("GET", "/v1/integrations")).statusCode, 200);
          t.clock.advance(2000);
          assert.ok(assert429(await call("GET", "/v1/integrations")) > 1, "4 per minute used up");

          const partial = await t.admin("POST", `/admin/v1/entities/${tenant.entityId}/api-keys`, { name: "fast", mode: "live", scopes: ["integrations:read"], rate_limit: { per_minute: 1000 } });
          assert.deepEqual(partial.json().rate_limit, { per_minute: 1000, burst: 5 }, "an omitted part keeps the mode's default");
          const plain = await t.admin("POST", `/admin/v1/entities/${tenant.entityId}/api-keys`, { name: "plain", mode: "test", scopes: ["integrations:read"] });
          assert.deepEqual(plain.json().rate_limit, { per_minute: 8, burst: 3 });
        });

        it("a bad rate_limit is a 400 naming the field", async () => {
          const tenant = await createTenant(t);
          const bodies: [unknown, string][] = [
            [{ per_minute: 0 }, "rate_limit.per_minute"],
            [{ per_minute: 1.5 }, "rate_limit.per_minute"],
            [{ burst: "many" }, "rate_limit.burst"],
            [{ per_minute: 10, burst: 11 }, "rate_limit.burst"],
            [{ burst: 50 }, "rate_limit.burst"],
            [{ per_hour: 5 }, "rate_limit.per_hour"],
            [{}, "rate_limit"],
          ];
          for (const [rateLimit, param] of bodies) {
            const res = await t.admin("POST", `/admin/v1/entities/${tenant.entityId}/api-keys`, { name: "k", mode: "live", scopes: ["integrations:read"], rate_limit: rateLimit });
            assert.equal(res.statusCode, 400, `${JSON.stringify(rateLimit)}: ${res.body}`);
            assert.equal(res.json().param, param, JSON.stringify(rateLimit));
          }
        });
      });

      describe("the count is shared by every process on the same store", () => {
        it("requests split across two servers draw on one budget", async () => {
          const tenant = await createTenant(t);
          const other = await secondServer(t);
          try {
            t.clock.advance(1000);
            const call = asKey(t, tenant);
            const statuses = [];
            for (let i = 0; i < 6; i++) statuses.push(i % 2 === 0 ? (await call("GET", "/v1/integrations/catalog")).statusCode : (await other.inject(tenant.key)).statusCode);
            assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429], t.logs.filter((l) => l.includes("unavailable")).join("\n"));
            assert429(await other.inject(tenant.key));
          } finally {
            await other.close();
          }
        });

        it("concurrent requests never overspend the budget", async () => {
          const tenant = await createTenant(t);
          t.clock.advance(1000);
          const answers = await Promise.all(Array.from({ length: 12 }, () => asKey(t, tenant)("GET", "/v1/integrations/catalog")));
          assert.equal(answers.filter((r) => r.statusCode === 200).length, 5);
          assert.equal(answers.filter((r) => r.statusCode === 429).length, 7);
        });
      });

      if (backend === "redis") {
        it("the counters live in Redis under PATCHBAY_REDIS_PREFIX, not in the database", async () => {
          const tenant = await createTenant(t);
          await asKey(t, tenant)("GET", "/v1/integrations");
          const redis = new Redis(REDIS_URL);
          try {
            const counters = await redis.hgetall(`${t.config.redisKeyPrefix}ratelimit:${tenant.keyId}`);
            assert.equal(counters.mc, "1");
            assert.ok((await redis.pttl(`${t.config.redisKeyPrefix}ratelimit:${tenant.keyId}`)) > 0, "counters expire");
          } finally {
            redis.disconnect();
          }
          const rows = await t.database.db.selectFrom("rate_limit_windows").select("api_key_id").where("api_key_id", "=", tenant.keyId).execute();
          assert.equal(rows.length, 0);
        });
      } else {
        it("the counters live in the rate_limit_windows table", async () => {
          const tenant = await createTenant(t);
          await asKey(t, tenant)("GET", "/v1/integrations");
          const row = await t.database.db.selectFrom("rate_limit_windows").selectAll().where("api_key_id", "=", tenant.keyId).executeTakeFirstOrThrow();
          assert.equal(row.minute_count, 1);
        });
      }
    });
  }

  describe(`[${kind}] the default limits: live 300/min (burst 50), test 60/min (burst 10)`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind, { clock: alignedClock() });
    });
    after(async () => t.close());

    it("a live key gets 50 at once, the 51st is refused; X-RateLimit-Limit is 300", async () => {
      const call = asKey(t, await createTenant(t));
      t.clock.advance(1000);
      const answers = [];
      for (let i = 0; i < 51; i++) answers.push(await call("GET", "/v1/integrations/catalog"));
      assertRateHeaders(answers[0]!, 300, t.clock.now().getTime());
      assert.equal(answers.filter((r) => r.statusCode === 200).length, 50);
      assert429(answers[50]!);
    });

    it("a test key gets 10 at once, the 11th is refused; X-RateLimit-Limit is 60", async () => {
      const tenant = await createTenant(t, { mode: "test" });
      t.clock.advance(1000);
      const answers = [];
      for (let i = 0; i < 11; i++) answers.push(await asKey(t, tenant)("GET", "/v1/integrations/catalog"));
      assertRateHeaders(answers[0]!, 60, t.clock.now().getTime());
      assert.equal(answers.filter((r) => r.statusCode === 200).length, 10);
      assert429(answers[10]!);
    });

    it("rate_limit_tier elevated at creation gives a live key 1,200/min with a burst of 100; keys report their tier", async () => {
      const tenant = await createTenant(t);
      const create = (body: object) => t.admin("POST", `/admin/v1/entities/${tenant.entityId}/api-keys`, { name: "k", scopes: ["integrations:read"], ...body });
      const elevated = await create({ mode: "live", rate_limit_tier: "elevated" });
      assert.equal(elevated.statusCode, 201, elevated.body);
      assert.deepEqual(elevated.json().rate_limit, { per_minute: 1200, burst: 100 });
      assert.equal(elevated.json().rate_limit_tier, "elevated");
      const standard = await create({ mode: "live", rate_limit_tier: "standard" });
      assert.deepEqual([standard.json().rate_limit, standard.json().rate_limit_tier], [{ per_minute: 300, burst: 50 }, "standard"]);
      const plainTest = await create({ mode: "test" });
      assert.deepEqual([plainTest.json().rate_limit, plainTest.json().rate_limit_tier], [{ per_minute: 60, burst: 10 }, "test"]);
      const custom = await create({ mode: "live", rate_limit: { per_minute: 500 } });
      assert.equal(custom.json().rate_limit_tier, "custom");
      const refused = await create({ mode: "test", rate_limit_tier: "elevated" });
      assert.equal(refused.statusCode, 400, refused.body);
      assert.deepEqual([refused.json().code, refused.json().param, refused.json().type], ["validation_failed", "rate_limit_tier", "validation_error"]);
      const unknownTier = await create({ mode: "live", rate_limit_tier: "platinum" });
      assert.deepEqual([unknownTier.statusCode, unknownTier.json().param], [400, "rate_limit_tier"]);

      const call = asKey(t, { key: elevated.json().key });
      t.clock.advance(1000);
      const answers = [];
      for (let i = 0; i < 101; i++) answers.push(await call("GET", "/v1/integrations/catalog"));
      assertRateHeaders(answers[0]!, 1200, t.clock.now().getTime());
      assert.equal(answers.filter((r) => r.statusCode === 200).length, 100);
      assert429(answers[100]!);
    });
  });

  describe(`[${kind}] with REDIS_URL set but Redis unreachable, PostgreSQL counts instead`, () => {
    let t: TestApp;
    before(async () => {
      // Port 1 on loopback: nothing listens there.
      t = await startTestApp(kind, { env: { ...LOW_LIMITS, REDIS_URL: "redis://127.0.0.1:1" }, clock: alignedClock() });
    });
    after(async () => t.close());

    it("limits still hold, headers are still sent, and the fallback is logged (not per request)", async () => {
      const call = asKey(t, await createTenant(t));
      t.clock.advance(1000);
      const answers = [];
      for (let i = 0; i < 6; i++) answers.push(await call("GET", "/v1/integrations/catalog"));
      assert.deepEqual(answers.map((r) => r.statusCode), [200, 200, 200, 200, 200, 429]);
      assertRateHeaders(answers[0]!, 20, t.clock.now().getTime());
      const notices = t.logs.filter((l) => l.includes("rate-limit store unavailable"));
      assert.equal(notices.length, 1, "once a minute at most");
    });
  });

  describe(`[${kind}] the CLI sets a key's limit: keys create --rate-limit-per-minute N --rate-limit-burst N`, () => {
    let t: TestApp;
    let base: string;
    before(async () => {
      t = await startTestApp(kind);
      base = await t.app.listen({ host: "127.0.0.1", port: 0 });
    });
    after(async () => t.close());

    const cli = (...args: string[]) =>
      promisify(execFile)(process.execPath, ["--import", "tsx", "src/cli/index.ts", ...args, "--url", base, "--admin-token", ADMIN_TOKEN], {
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
      });

    it("creates the key with that limit, and refuses a flag that is not a number", async () => {
      const tenant = await createTenant(t);
      const { stdout } = await cli("keys", "create", "--entity", tenant.entityId, "--mode", "test", "--rate-limit-per-minute", "7", "--rate-limit-burst", "3", "--json");
      const key = JSON.parse(stdout);
      assert.deepEqual(key.rate_limit, { per_minute: 7, burst: 3 });
      assert.equal(key.mode, "test");
      const human = await cli("keys", "create", "--entity", tenant.entityId, "--rate-limit-per-minute", "120");
      assert.match(human.stdout, /rate limit: 120\/min, burst 50\/s/);
      await assert.rejects(cli("keys", "create", "--entity", tenant.entityId, "--rate-limit-burst", "lots"), (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 1);
        assert.match(err.stderr, /--rate-limit-burst needs a whole number/);
        return true;
      });
    });
  });
}
