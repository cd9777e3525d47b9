import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { buildApp } from "../src/app.ts";
import { createServices } from "../src/compose.ts";
import { loadConfig } from "../src/config.ts";
import { EmbeddedAdmission, EmbeddedBusyError } from "../src/db/embedded-admission.ts";
import { loggerOptions } from "../src/logging.ts";
import { ManualClock } from "./helpers/clock.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/databases.ts";
import { assertErrorShape } from "./helpers/error-shapes.ts";

const ADMIN_TOKEN = "pb_admin_test_token_0123456789abcdef";

interface Seen {
  status: number;
  headers: Record<string, string>;
  body: string;
  ms: number;
}

/**
 * Issue 16 point 5: on the embedded database, requests beyond a bounded line
 * are answered 503 + Retry-After at once, in their surface's shape, and a
 * request that waits too long gets the same answer; none hangs. The line is
 * made full by holding the embedded database's one session in a transaction
 * while one request (the only slot) waits for it.
 */
describe("embedded database: bounded admission (503 + Retry-After beyond the line)", () => {
  let database: TestDatabase;
  let app: FastifyInstance;
  let url: string;
  let dataDir: string;
  // A bound long enough that the first test's place in line is kept while it sends its refused requests on a busy machine.
  const admission = new EmbeddedAdmission({ concurrency: 1, queueLimit: 1, maxWaitMs: 1_500 });

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "patchbay-admission-"));
    const config = loadConfig({ PATCHBAY_DATA_DIR: dataDir, PATCHBAY_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: "warn", PATCHBAY_JOBS: "false", PATCHBAY_DEMO_RETAILER_GATEWAY: "false" });
    database = await createTestDatabase("pglite");
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const logger = pino(loggerOptions("warn") as pino.LoggerOptions, sink);
    const services = createServices({ db: database.db, clock: new ManualClock(), config, logger });
    app = await buildApp({ config, db: database.db, services, adminToken: ADMIN_TOKEN, logStream: sink, admission });
    url = await app.listen({ host: "127.0.0.1", port: 0 });
  });
  after(async () => {
    await app.close();
    await database.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function send(p: string, headers: Record<string, string> = {}): Promise<Seen> {
    const started = performance.now();
    const res = await fetch(`${url}${p}`, { headers, signal: AbortSignal.timeout(10_000) });
    const body = await res.text();
    return { status: res.status, headers: Object.fromEntries(res.headers), body, ms: performance.now() - started };
  }

  /** Runs `work` while the embedded session is held by a transaction (every statement of every request waits). */
  async function whileDatabaseHeld<T>(work: () => Promise<T>): Promise<T> {
    let free!: () => void;
    const held = new Promise<void>((r) => (free = r));
    let begun!: () => void;
    const inside = new Promise<void>((r) => (begun = r));
    const trx = database.db.transaction().execute(async () => {
      begun();
      await held;
    });
    await inside;
    try {
      return await work();
    } finally {
      free();
      await trx;
    }
  }

  const until = async (check: () => boolean) => {
    for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok(check(), "admission state not reached");
  };

  it("the line full: each surface answers 503 service_unavailable with Retry-After at once; the held requests finish once the database is free", async () => {
    const bearer = { authorization: "Bearer ark_test_ent_doesnotexist0000000000" };
    const { first, second, refused } = await whileDatabaseHeld(async () => {
      // The one slot: waits for the database inside its request.
      const first = send("/v1/integrations", bearer);
      await until(() => admission.stats().running === 1);
      // The one place in line.
      const second = send("/admin/v1/entities", { authorization: `Bearer ${ADMIN_TOKEN}` });
      await until(() => admission.stats().waiting === 1);
      const refused: Array<[string, Seen]> = [];
      for (const p of ["/v1/integrations", "/admin/v1/entities", "/connections/retailers", "/api/v3/integrations"]) refused.push([p, await send(p, bearer)]);
      return { first, second, refused };
    });
    for (const [p, res] of refused) {
      assertErrorShape(p, res, { status: 503, code: p.startsWith("/connections") ? undefined : "service_unavailable" });
      assert.equal(res.headers["retry-after"], "1", `Retry-After on ${p}`);
      assert.ok(res.ms < 1_000, `${p} was answered at once (${res.ms.toFixed(0)} ms), not queued`);
    }
    // Neither held request hangs: both get their ordinary answers once the database is free.
    const [a, b] = await Promise.all([first, second]);
    assert.equal(a.status, 401, a.body);
    assert.equal(b.status, 200, b.body);
    assert.deepEqual(admission.stats(), { running: 0, waiting: 0 });
  });

  it("a request that waits in line longer than the bound is answered 503 + Retry-After, not left waiting", async () => {
    const res = await whileDatabaseHeld(async () => {
      const first = send("/v1/integrations", { authorization: "Bearer ark_test_ent_doesnotexist0000000000" });
      await until(() => admission.stats().running === 1);
      const waited = await send("/api/v3/integrations", { authorization: "Basic " + Buffer.from("pk:sk").toString("base64") });
      return { first, waited };
    });
    assertErrorShape("/api/v3/integrations", res.waited, { status: 503, code: "service_unavailable" });
    assert.equal(res.waited.headers["retry-after"], "1");
    assert.ok(res.waited.ms >= 1_400 && res.waited.ms < 5_000, `answered after the 1.5 s bound (${res.waited.ms.toFixed(0)} ms)`);
    assert.equal((await res.first).status, 401);
    assert.deepEqual(admission.stats(), { running: 0, waiting: 0 });
  });

  it("the probes never wait in line: /livez answers while the line is full", async () => {
    const probe = await whileDatabaseHeld(async () => {
      const first = send("/v1/integrations", { authorization: "Bearer ark_test_ent_doesnotexist0000000000" });
      await until(() => admission.stats().running === 1);
      const live = await send("/livez");
      return { first, live };
    });
    assert.equal(probe.live.status, 200, probe.live.body);
    assert.equal((await probe.first).status, 401);
  });
});

describe("embedded admission: the wait bound holds when its timer is late", () => {
  /** PGlite runs statements synchronously: a busy stretch holds the event loop, and with it every timer. */
  function holdEventLoop(ms: number): void {
    const until = performance.now() + ms;
    while (performance.now() < until) {
      // busy, as a run of synchronous statements is
    }
  }

  it("a waiter past the bound when a slot frees is refused (503), not run; one within it is run", async () => {
    const admission = new EmbeddedAdmission({ concurrency: 1, queueLimit: 4, maxWaitMs: 200 });
    const first = await admission.enter(() => {});
    const late = admission.enter(() => {});
    holdEventLoop(260);
    const fresh = admission.enter(() => {});
    first();
    await assert.rejects(late, EmbeddedBusyError);
    const second = await fresh;
    assert.equal(admission.refused, 1);
    assert.deepEqual(admission.stats(), { running: 1, waiting: 0 });
    second();
    assert.deepEqual(admission.stats(), { running: 0, waiting: 0 });
  });

  it("a waiter whose timer fires on time is refused and leaves the line", async () => {
    const admission = new EmbeddedAdmission({ concurrency: 1, queueLimit: 4, maxWaitMs: 30 });
    const first = await admission.enter(() => {});
    await assert.rejects(admission.enter(() => {}), EmbeddedBusyError);
    assert.deepEqual(admission.stats(), { running: 1, waiting: 0 });
    first();
    assert.equal(admission.refused, 1);
  });
});
