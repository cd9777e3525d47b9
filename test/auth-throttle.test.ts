import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import { sql } from "kysely";
import { buildApp } from "../src/app.ts";
import { ConfigError, loadConfig } from "../src/config.ts";
import { openDatabase } from "../src/db/index.ts";
import { purgeStaleAuthFailures } from "../src/jobs/purge-auth-failures.ts";
import { clientAddress } from "../src/ratelimit/auth-throttle.ts";
import { createServices } from "../src/compose.ts";
import { ADMIN_TOKEN, startTestApp, type TestApp } from "./helpers/app.ts";
import { ManualClock } from "./helpers/clock.ts";
import { createConnection, mintToken } from "./helpers/connections.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { createTenant, type Tenant } from "./helpers/fixtures.ts";
import { basicHeader } from "./helpers/shop-integrations.ts";

const REDIS_URL = "redis://127.0.0.1:6379";
const BACKENDS = ["postgres", "redis"] as const;
type Backend = (typeof BACKENDS)[number];
const LIMIT = 5;

/** Two client addresses: the guesser, and a bystander whose keys must never suffer for it. */
const GUESSER = "198.51.100.7";
const BYSTANDER = "203.0.113.9";

const unknownKey = () => `ark_live_ent_${randomBytes(30).toString("base64url").replace(/[-_]/g, "x").slice(0, 40)}`;

function backendEnv(backend: Backend): Record<string, string> {
  const env: Record<string, string> = { PATCHBAY_AUTH_FAILURES_PER_MINUTE: String(LIMIT) };
  // A prefix of its own per app: parallel test files share the one Redis.
  if (backend === "redis") Object.assign(env, { REDIS_URL, PATCHBAY_REDIS_PREFIX: `patchbay-test-${randomBytes(6).toString("hex")}:` });
  return env;
}

type Inject = (opts: InjectOptions) => Promise<LightMyRequestResponse>;

/** The request shapes of every surface, from one client address. */
function surfaces(inject: Inject, address: string) {
  const from = (opts: InjectOptions) => inject({ ...opts, remoteAddress: address });
  return {
    admin: (token: string) => from({ method: "GET", url: "/admin/v1/entities", headers: { authorization: `Bearer ${token}` } }),
    v1: (key: string) => from({ method: "GET", url: "/v1/integrations/catalog", headers: { authorization: `Bearer ${key}` } }),
    connections: (key: string) => from({ method: "GET", url: "/retailers", headers: { "x-api-key": key } }),
    connection: (key: string, id: string, token: string) => from({ method: "GET", url: `/connections/${id}`, headers: { "x-api-key": key, authorization: `Bearer ${token}` } }),
    v3: (publicKey: string, key: string) => from({ method: "GET", url: "/api/v3/integrations", headers: { authorization: basicHeader(publicKey, key) } }),
    link: (token: string) => from({ method: "GET", url: `/link?connection_token=${encodeURIComponent(token)}` }),
  };
}

function retryAfterOf(res: LightMyRequestResponse): number {
  const retryAfter = Number(res.headers["retry-after"]);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 120, `Retry-After ${res.headers["retry-after"]}`);
  return retryAfter;
}

function assertFlat429(res: LightMyRequestResponse): number {
  assert.equal(res.statusCode, 429, res.body);
  const body = res.json();
  assert.equal(body.code, "too_many_failed_authentications");
  assert.equal(body.type, "rate_limit");
  assert.match(body.request_id, /^req_/);
  return retryAfterOf(res);
}

function assertFastApi429(res: LightMyRequestResponse): void {
  assert.equal(res.statusCode, 429, res.body);
  assert.match(res.json().detail, /Too many failed authentications/);
  retryAfterOf(res);
}

function assertJsonApi429(res: LightMyRequestResponse): void {
  assert.equal(res.statusCode, 429, res.body);
  const [error] = res.json().errors;
  assert.equal(error.status, "429");
  assert.equal(error.code, "too_many_failed_authentications");
  retryAfterOf(res);
}

/** Another process on the same database and counters: its own pool, its own services, no in-process hints. */
async function secondServer(t: TestApp) {
  const own = t.kind === "postgres" ? await openDatabase({ kind: "postgres", url: t.database.url!, poolSize: 3 }) : null;
  const db = own?.db ?? t.database.db;
  const services = createServices({ db, clock: t.clock, config: t.config });
  const app = await buildApp({ config: t.config, db, services, adminToken: ADMIN_TOKEN, logStream: new Writable({ write: (_c, _e, cb) => cb() }) });
  await app.ready();
  return {
    inject: ((opts: InjectOptions) => app.inject(opts)) as Inject,
    close: async () => {
      await app.close();
      await own?.close();
    },
  };
}

describe("the failed-authentication limit is checked at start", () => {
  it("defaults to 20 a minute; a bad value names its variable", () => {
    assert.equal(loadConfig({}).authFailuresPerMinute, 20);
    assert.equal(loadConfig({ PATCHBAY_AUTH_FAILURES_PER_MINUTE: "3" }).authFailuresPerMinute, 3);
    for (const value of ["0", "lots", "-1"]) {
      assert.throws(
        () => loadConfig({ PATCHBAY_AUTH_FAILURES_PER_MINUTE: value }),
        (err: unknown) => err instanceof ConfigError && err.variable === "PATCHBAY_AUTH_FAILURES_PER_MINUTE",
        value,
      );
    }
  });
});

describe("failures are counted per client address", () => {
  it("IPv4 as is, IPv4-mapped IPv6 as its IPv4, other IPv6 per /64", () => {
    assert.equal(clientAddress("192.0.2.1"), "192.0.2.1");
    assert.equal(clientAddress("::ffff:192.0.2.1"), "192.0.2.1");
    assert.equal(clientAddress("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
    assert.equal(clientAddress("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
    assert.equal(clientAddress("2001:0DB8:0001:0002::9%eth0"), "2001:db8:1:2::/64");
    assert.equal(clientAddress("2001:db8::1"), "2001:db8:0:0::/64");
    assert.equal(clientAddress("::1"), "0:0:0:0::/64");
  });
});

for (const kind of DB_KINDS) {
  for (const backend of BACKENDS) {
    describe(`[${kind}] failed authentications are throttled per address, counted in ${backend} (issue 13, point 8)`, () => {
      let t: TestApp;
      let tenant: Tenant;
      before(async () => {
        t = await startTestApp(kind, { env: backendEnv(backend), clock: new ManualClock("2030-01-01T00:00:10.000Z") });
        tenant = await createTenant(t);
      });
      after(async () => {
        await t?.close();
      });
      // Each test moves well past the last one's window, so its counts start from nothing.
      const freshMinute = () => t.clock.advance(10 * 60_000);

      it("wrong admin tokens: LIMIT answers 401, then 429 in the flat shape with Retry-After, a valid token too; another address is untouched", async () => {
        freshMinute();
        const guesser = surfaces(t.app.inject.bind(t.app), GUESSER);
        const bystander = surfaces(t.app.inject.bind(t.app), BYSTANDER);
        for (let i = 0; i < LIMIT; i++) assert.equal((await guesser.admin(`pb_admin_wrong_${i}_xxxxxxxxxxxxxxxx`)).statusCode, 401);
        assertFlat429(await guesser.admin("pb_admin_wrong_again_xxxxxxxxxxxxxxx"));
        // Refused before the token is looked at: the throttle tells nothing about the token.
        assertFlat429(await guesser.admin(ADMIN_TOKEN));
        assertFlat429(await guesser.v1(tenant.key));
        assert.equal((await bystander.admin(ADMIN_TOKEN)).statusCode, 200);
        assert.equal((await bystander.v1(tenant.key)).statusCode, 200);
        assert.equal((await bystander.admin("pb_admin_bystander_typo_xxxxxxxxxxxx")).statusCode, 401, "the bystander's own failures are its own");
      });

      it("unknown keys on /v1, /connections and /api/v3 count alike; every surface then answers 429 in its own shape, before any credential check", async () => {
        freshMinute();
        const guesser = surfaces(t.app.inject.bind(t.app), GUESSER);
        const attempts = [() => guesser.v1(unknownKey()), () => guesser.connections(unknownKey()), () => guesser.v3(tenant.publicKey, unknownKey()), () => guesser.v1("not-even-a-key")];
        for (let i = 0; i < LIMIT; i++) assert.equal((await attempts[i % attempts.length]!()).statusCode, 401);
        assertFlat429(await guesser.v1(unknownKey()));
        assertFlat429(await guesser.v1(tenant.key));
        assertFastApi429(await guesser.connections(tenant.key));
        assertJsonApi429(await guesser.v3(tenant.publicKey, tenant.key));
        assertFlat429(await guesser.admin(ADMIN_TOKEN));
        const page = await guesser.link("pbct_whatever.sig");
        assert.equal(page.statusCode, 429);
        assert.match(page.headers["content-type"] as string, /text\/html/);
        retryAfterOf(page);
      });

      it("a wrong Basic user name and a malformed Basic header are failures; no credentials at all is not", async () => {
        freshMinute();
        const guesser = surfaces(t.app.inject.bind(t.app), GUESSER);
        for (let i = 0; i < 3 * LIMIT; i++) {
          const res = await t.app.inject({ method: "GET", url: "/v1/integrations/catalog", remoteAddress: GUESSER });
          assert.equal(res.statusCode, 401, "a request without a key is not a guess");
        }
        assert.equal((await guesser.v3("pk_live_someone_else", tenant.key)).statusCode, 401);
        const malformed = () => t.app.inject({ method: "GET", url: "/api/v3/integrations", remoteAddress: GUESSER, headers: { authorization: "Basic !!!" } });
        for (let i = 1; i < LIMIT; i++) assert.equal((await malformed()).statusCode, 401);
        assertJsonApi429(await malformed());
      });

      it("connection tokens that fail count against the address, after a valid x-api-key", async () => {
        freshMinute();
        const connection = await createConnection(t, tenant);
        const access = await mintToken(t, tenant, connection.connection_id, "access");
        const guesser = surfaces(t.app.inject.bind(t.app), GUESSER);
        assert.equal((await guesser.connection(tenant.key, connection.connection_id, access)).statusCode, 200);
        for (let i = 0; i < LIMIT; i++) assert.equal((await guesser.connection(tenant.key, connection.connection_id, `pbct_${"A".repeat(30)}.${"B".repeat(43)}`)).statusCode, 401);
        assertFastApi429(await guesser.connection(tenant.key, connection.connection_id, access));
        assert.equal((await surfaces(t.app.inject.bind(t.app), BYSTANDER).connection(tenant.key, connection.connection_id, access)).statusCode, 200);
      });

      it("successes are never counted: a busy valid key is not throttled", async () => {
        freshMinute();
        const guesser = surfaces(t.app.inject.bind(t.app), GUESSER);
        for (let i = 0; i < 4 * LIMIT; i++) assert.equal((await guesser.admin(ADMIN_TOKEN)).statusCode, 200);
        for (let i = 0; i < 4 * LIMIT; i++) assert.equal((await guesser.v1(tenant.key)).statusCode, 200);
      });

      it("Retry-After is when the address is let in again", async () => {
        freshMinute();
        const guesser = surfaces(t.app.inject.bind(t.app), GUESSER);
        for (let i = 0; i < LIMIT; i++) assert.equal((await guesser.v1(unknownKey())).statusCode, 401);
        const retryAfter = assertFlat429(await guesser.v1(tenant.key));
        t.clock.advance((retryAfter - 2) * 1000);
        assertFlat429(await guesser.v1(tenant.key));
        t.clock.advance(3000);
        assert.equal((await guesser.v1(tenant.key)).statusCode, 200);
      });

      it("every process shares the count: failures on one throttle the address on the other, for keys and the admin token", async () => {
        freshMinute();
        const other = await secondServer(t);
        try {
          const here = surfaces(t.app.inject.bind(t.app), GUESSER);
          const there = surfaces(other.inject, GUESSER);
          for (let i = 0; i < LIMIT; i++) assert.equal((await (i % 2 ? here : there).v1(unknownKey())).statusCode, 401);
          // The other process has no hint of its own: the shared store refuses, even a valid key.
          assertFlat429(await there.v1(tenant.key));
          assertFastApi429(await there.connections(tenant.key));
          assertJsonApi429(await there.v3(tenant.publicKey, tenant.key));
          assertFlat429(await there.admin("pb_admin_wrong_there_xxxxxxxxxxxxxxx"));
          assertFlat429(await there.admin(ADMIN_TOKEN));
          assert.equal((await surfaces(other.inject, BYSTANDER).v1(tenant.key)).statusCode, 200);
        } finally {
          await other.close();
        }
      });

      it("a flood of failures from a throttled address costs the store nothing more", async () => {
        freshMinute();
        const guesser = surfaces(t.app.inject.bind(t.app), GUESSER);
        for (let i = 0; i < LIMIT; i++) await guesser.v1(unknownKey());
        assertFlat429(await guesser.v1(unknownKey()));
        const limiter = t.services.rateLimiter;
        const original = limiter.failAuthentication;
        let asked = 0;
        limiter.failAuthentication = async (...args) => {
          asked++;
          return original(...args);
        };
        try {
          for (let i = 0; i < 50; i++) assertFlat429(await guesser.v1(unknownKey()));
          for (let i = 0; i < 50; i++) assertFlat429(await guesser.admin(`pb_admin_flood_${i}_xxxxxxxxxxxxxxxxxx`));
        } finally {
          limiter.failAuthentication = original;
        }
        assert.equal(asked, 0);
      });
    });
  }

  describe(`[${kind}] with REDIS_URL set but Redis unreachable, PostgreSQL counts the failures instead`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind, { env: { PATCHBAY_AUTH_FAILURES_PER_MINUTE: String(LIMIT), REDIS_URL: "redis://127.0.0.1:1" } });
    });
    after(async () => {
      await t?.close();
    });

    it("the brake still holds, across processes, and a valid key from another address still works", async () => {
      const tenant = await createTenant(t);
      const other = await secondServer(t);
      try {
        const here = surfaces(t.app.inject.bind(t.app), GUESSER);
        for (let i = 0; i < LIMIT; i++) assert.equal((await here.v1(unknownKey())).statusCode, 401);
        assertFlat429(await here.v1(unknownKey()));
        assertFlat429(await surfaces(other.inject, GUESSER).v1(tenant.key));
        assert.equal((await surfaces(other.inject, BYSTANDER).v1(tenant.key)).statusCode, 200);
        const { rows } = await sql<{ minute_count: number }>`select minute_count from auth_failures where client_address = ${GUESSER}`.execute(t.database.db);
        assert.equal(rows[0]?.minute_count, LIMIT);
      } finally {
        await other.close();
      }
    });
  });

  describe(`[${kind}] stale failure counts are purged`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind, { env: { PATCHBAY_AUTH_FAILURES_PER_MINUTE: String(LIMIT) } });
    });
    after(async () => {
      await t?.close();
    });

    it("an address quiet for two whole minutes is forgotten; a recent one is kept", async () => {
      await t.app.inject({ method: "GET", url: "/v1/integrations/catalog", remoteAddress: GUESSER, headers: { authorization: `Bearer ${unknownKey()}` } });
      t.clock.advance(30_000);
      await t.app.inject({ method: "GET", url: "/v1/integrations/catalog", remoteAddress: BYSTANDER, headers: { authorization: `Bearer ${unknownKey()}` } });
      const addresses = async () => (await sql<{ client_address: string }>`select client_address from auth_failures order by 1`.execute(t.database.db)).rows.map((r) => r.client_address);
      assert.deepEqual(await addresses(), [GUESSER, BYSTANDER].sort());
      assert.equal(await purgeStaleAuthFailures(t.database.db, t.clock.now()), 0);
      assert.equal(await purgeStaleAuthFailures(t.database.db, new Date(t.clock.now().getTime() + 3 * 60_000)), 2);
      assert.deepEqual(await addresses(), []);
    });
  });
}
