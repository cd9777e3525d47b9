import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { createPostgresRateLimitStore } from "../src/ratelimit/postgres-store.ts";
import { createRedisRateLimitStore } from "../src/ratelimit/redis-store.ts";
import { admits, MINUTE_MS, msUntilAdmitted, SECOND_MS, verdict, type RateLimit, type WindowCounts } from "../src/ratelimit/sliding-window.ts";
import type { FailureCounts, RateLimitStore } from "../src/ratelimit/store.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/databases.ts";

/**
 * The rate-limit formula exists three times (issue 14): `rate_limit_take` and
 * `auth_failures_take` in PL/pgSQL (migrations 0005, 0012), their Lua twins
 * in redis-store.ts, and the TypeScript arithmetic of sliding-window.ts that
 * turns the counts into Remaining and Retry-After. One sequence of requests
 * and clock steps goes through all of them: the PL/pgSQL on PGlite and on
 * PostgreSQL and the Lua on Redis must answer the same counts at every step,
 * and the TypeScript formula must predict each admission from the counts
 * before it, and the moment a refused request would be admitted.
 */

const REDIS_URL = "redis://127.0.0.1:6379";
const LIMIT: RateLimit = { perMinute: 12, burst: 4 };
const FAILURES_PER_MINUTE = 5;
/** An arbitrary instant a few ms into a second, 37 s into a minute. */
const T0 = Date.UTC(2026, 11, 1, 12, 0, 37, 3);

/** A deterministic sequence (a fixed-seed LCG), so a failure names its step and reproduces. */
function* steps(seed: number, count: number): Generator<{ advanceMs: number; key: 0 | 1; kind: "take" | "fail" }> {
  let x = seed;
  const next = () => ((x = (x * 1103515245 + 12345) % 2 ** 31), x / 2 ** 31);
  // Clock steps around both windows' edges: none, a millisecond, inside a second, a second, inside a minute, a minute and more.
  const advances = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 97, 250, 999, 1000, 1001, 4_321, 15_000, 59_999, 60_000, 61_500, 125_000];
  for (let i = 0; i < count; i++) {
    yield { advanceMs: advances[Math.floor(next() * advances.length)]!, key: next() < 0.8 ? 0 : 1, kind: next() < 0.7 ? "take" : "fail" };
  }
}

interface Implementation {
  name: string;
  store: RateLimitStore;
  keys: [string, string];
  addresses: [string, string];
  close(): Promise<void>;
}

async function postgresImplementation(kind: "pglite" | "postgres"): Promise<Implementation & { database: TestDatabase }> {
  const database = await createTestDatabase(kind);
  const now = new Date(T0);
  const entityId = randomUUID();
  await database.db.insertInto("entities").values({ id: entityId, name: "conformance", created_at: now }).execute();
  const keys = [randomUUID(), randomUUID()] as [string, string];
  for (const id of keys) {
    await database.db
      .insertInto("api_keys")
      .values({ id, entity_id: entityId, name: "k", mode: "live", scopes: [], key_prefix: "ark_live_ent_", key_hash: randomBytes(32), public_key: `pk_${randomBytes(8).toString("hex")}`, created_at: now, revoked_at: null, rate_limit_per_minute: null, rate_limit_burst: null })
      .execute();
  }
  return { name: `PL/pgSQL on ${kind}`, store: createPostgresRateLimitStore(database.db), keys, addresses: [`198.51.100.${kind === "pglite" ? 1 : 2}`, "203.0.113.9"], database, close: () => database.close() };
}

function redisImplementation(): Implementation {
  const prefix = `patchbay_conformance_${randomBytes(4).toString("hex")}:`;
  const store = createRedisRateLimitStore(REDIS_URL, prefix);
  return { name: "Lua on Redis", store, keys: [randomUUID(), randomUUID()], addresses: ["198.51.100.3", "203.0.113.10"], close: () => store.close() };
}

/** The counts before a take, from the counts after it: an admitted request added one to both current windows. */
function countsBefore(c: WindowCounts): { minute: [number, number]; second: [number, number] } {
  const d = c.allowed ? 1 : 0;
  return { minute: [c.minutePrev, c.minuteCount - d], second: [c.secondPrev, c.secondCount - d] };
}

describe("the three rate-limit implementations give the same answers (issue 14, item 8)", () => {
  const impls: Implementation[] = [];

  before(async () => {
    impls.push(await postgresImplementation("pglite"), await postgresImplementation("postgres"), redisImplementation());
    for (const i of impls) await i.store.ready();
  });

  after(async () => {
    for (const i of impls) await i.close();
  });

  it("the same requests and clock steps: equal counts from PL/pgSQL (PGlite, PostgreSQL) and Lua, and the TypeScript formula predicts every decision", async () => {
    let nowMs = T0;
    let admitted = 0;
    let refused = 0;
    let failuresRefused = 0;
    let n = 0;
    for (const step of steps(20261201, 400)) {
      n += 1;
      nowMs += step.advanceMs;
      const where = `step ${n} at T0+${nowMs - T0} ms (${step.kind}, key ${step.key})`;
      if (step.kind === "take") {
        const answers = await Promise.all(impls.map((i) => i.store.take(i.keys[step.key], nowMs, LIMIT)));
        for (let k = 1; k < impls.length; k++) assert.deepEqual(answers[k], answers[0], `${where}: ${impls[k]!.name} answers as ${impls[0]!.name}`);
        const counts = answers[0]!;
        const b = countsBefore(counts);
        const predicted = admits(...b.minute, LIMIT.perMinute, nowMs, MINUTE_MS) && admits(...b.second, LIMIT.burst, nowMs, SECOND_MS);
        assert.equal(counts.allowed, predicted, `${where}: sliding-window.ts admits() agrees with the stores`);
        const v = verdict(counts, LIMIT, nowMs);
        assert.equal(v.allowed, counts.allowed);
        if (counts.allowed) admitted += 1;
        else {
          refused += 1;
          // Retry-After: the TypeScript wait is exact; a request just before it is refused, one at it is admitted, by every store.
          const waitMs = Math.max(
            msUntilAdmitted(...b.minute, LIMIT.perMinute, nowMs, MINUTE_MS),
            msUntilAdmitted(...b.second, LIMIT.burst, nowMs, SECOND_MS),
          );
          assert.ok(waitMs > 0 && v.retryAfterSeconds === Math.max(1, Math.ceil(waitMs / 1000)), `${where}: Retry-After follows the wait`);
          const early = nowMs + Math.floor(waitMs) - 1;
          if (early > nowMs) {
            const probes = await Promise.all(impls.map((i) => i.store.take(i.keys[step.key], early, LIMIT)));
            for (const [k, p] of probes.entries()) assert.equal(p.allowed, false, `${where}: ${impls[k]!.name} still refuses ${Math.floor(waitMs) - 1} ms later`);
          }
          nowMs += Math.ceil(waitMs);
          const retries = await Promise.all(impls.map((i) => i.store.take(i.keys[step.key], nowMs, LIMIT)));
          for (const [k, r] of retries.entries()) {
            assert.equal(r.allowed, true, `${where}: ${impls[k]!.name} admits once the TypeScript wait (${Math.ceil(waitMs)} ms) has passed`);
            assert.deepEqual(r, retries[0], `${where}: equal counts on the retry`);
          }
          admitted += 1;
        }
      } else {
        const answers: FailureCounts[] = await Promise.all(impls.map((i) => i.store.failAuthentication(i.addresses[step.key], nowMs, FAILURES_PER_MINUTE)));
        for (let k = 1; k < impls.length; k++) assert.deepEqual(answers[k], answers[0], `${where}: ${impls[k]!.name} counts failures as ${impls[0]!.name}`);
        const f = answers[0]!;
        const predicted = admits(f.prev, f.throttled ? f.count : f.count - 1, FAILURES_PER_MINUTE, nowMs, MINUTE_MS);
        assert.equal(!f.throttled, predicted, `${where}: admits() agrees on the failure count`);
        if (f.throttled) failuresRefused += 1;
      }
    }
    // The sequence exercised both answers of both formulas (it is not blind).
    assert.ok(admitted > 50 && refused > 10 && failuresRefused > 3, `admitted ${admitted}, refused ${refused}, failures refused ${failuresRefused}`);
  });

  it("a guard refuses a key's request while its address is over the failure limit, without counting the key, in every store", async () => {
    // A week on: past anything the sequence above reached.
    let nowMs = T0 + 7 * 86_400_000;
    for (let f = 0; f < FAILURES_PER_MINUTE + 1; f++) {
      await Promise.all(impls.map((i) => i.store.failAuthentication(i.addresses[1], nowMs, FAILURES_PER_MINUTE)));
    }
    const refusedAnswers = await Promise.all(impls.map((i) => i.store.take(i.keys[1], nowMs, LIMIT, { address: i.addresses[1], failuresPerMinute: FAILURES_PER_MINUTE })));
    for (const [k, a] of refusedAnswers.entries()) {
      assert.equal(a.allowed, false, impls[k]!.name);
      assert.deepEqual(a.throttled, refusedAnswers[0]!.throttled, `${impls[k]!.name}: the same failure counts`);
      assert.equal(a.throttled?.throttled, true);
    }
    // Two minutes on, the failures have faded: the key is counted again, from the same state everywhere.
    nowMs += 2 * MINUTE_MS;
    const admittedAnswers = await Promise.all(impls.map((i) => i.store.take(i.keys[1], nowMs, LIMIT, { address: i.addresses[1], failuresPerMinute: FAILURES_PER_MINUTE })));
    for (const [k, a] of admittedAnswers.entries()) {
      assert.equal(a.allowed, true, impls[k]!.name);
      assert.deepEqual(a, admittedAnswers[0], `${impls[k]!.name}: the same counts`);
    }
  });
});
