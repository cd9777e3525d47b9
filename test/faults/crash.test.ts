import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { FAULT_STEPS, type FaultStep } from "../../src/idempotency/store.ts";
import { ADMIN_TOKEN } from "../helpers/app.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/databases.ts";
import { startTestServerProcess, type ServerProcess } from "../helpers/process.ts";

/**
 * (b) Exactly once through a crash (issue 13, point 1; RELIABILITY.md). Two
 * Patchbay processes on one PostgreSQL, each killed (SIGKILL, through the
 * test-only PATCHBAY_FAULT_CRASH switch) at one step of an idempotent write
 * with some probability; every write that got no answer is retried with its
 * key, on whichever process is alive, until it is answered. Then the database
 * is read: every write executed exactly once — one row, one audit entry, one
 * event — and none that was acknowledged is missing.
 */

const WRITES_PER_STEP = Number(process.env.CRASH_WRITES ?? 48);
const CRASH_PROBABILITY = Number(process.env.CRASH_PROBABILITY ?? 0.08);
const CONCURRENCY = 4;

type Kind = "entity" | "connector" | "connection" | "shop";

interface Write {
  kind: Kind;
  key: string;
  marker: string;
  method: string;
  path: string;
  body: unknown;
  auth: string;
}

interface Tally {
  sent: number;
  crashesSeen: number;
  retries: number;
  acknowledged: number;
}

describe("[postgres] (b) crash mid-write: two processes killed at each step of an idempotent write; every write executes exactly once", () => {
  let database: TestDatabase;
  let sql: pg.Client;
  let env: Record<string, string>;
  let bearer: string;
  let basic: string;
  let shopId: number;
  const servers: Array<(ServerProcess & { crash: string }) | null> = [null, null];
  const results: Array<{ step: FaultStep } & Tally> = [];

  before(async () => {
    database = await createTestDatabase("postgres");
    env = {
      DATABASE_URL: database.url!,
      LOG_LEVEL: "warn",
      PATCHBAY_RATE_LIMIT_LIVE_PER_MINUTE: "1000000",
      PATCHBAY_RATE_LIMIT_LIVE_BURST: "1000000",
    };
    // Fixtures through a process without the switch.
    const setup = await startTestServerProcess(env);
    try {
      const post = async (path: string, auth: string, body: unknown) => {
        const res = await fetch(`${setup.url}${path}`, { method: "POST", headers: { authorization: auth, "content-type": "application/json" }, body: JSON.stringify(body) });
        const text = await res.text();
        assert.ok(res.status < 300, `${path}: ${res.status} ${text}`);
        return JSON.parse(text);
      };
      const entity = await post("/admin/v1/entities", `Bearer ${ADMIN_TOKEN}`, { name: "Crash fixtures" });
      const key = await post(`/admin/v1/entities/${entity.id}/api-keys`, `Bearer ${ADMIN_TOKEN}`, {
        name: "crash",
        mode: "live",
        scopes: ["integrations:read", "integrations:write", "connections:read", "connections:write"],
      });
      bearer = `Bearer ${key.key}`;
      basic = `Basic ${Buffer.from(`${key.public_key}:${key.key}`).toString("base64")}`;
      await post("/v1/integrations/stripe", bearer, { mode: "live", config: { currency: "usd" } });
      await post("/v1/integrations/amazon", bearer, { mode: "live", seller_id: "SELLERCRASH" });
      const list = await fetch(`${setup.url}/api/v3/integrations`, { headers: { authorization: basic } }).then((r) => r.json());
      shopId = list.data[0].id;
      assert.equal(typeof shopId, "number", JSON.stringify(list));
    } finally {
      await setup.stop();
    }
    sql = new pg.Client({ connectionString: database.url! });
    await sql.connect();
  });

  after(async () => {
    await Promise.all(servers.map((s) => s?.stop()));
    await sql?.end();
    await database?.close();
    if (results.length > 0) {
      process.stdout.write(
        `\n(b) crash mid-write, ${WRITES_PER_STEP} writes per step, crash probability ${CRASH_PROBABILITY}:\n` +
          `| step | writes | requests sent | unanswered (process killed) | retried with the key | acknowledged | executed twice | lost |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n` +
          results.map((r) => `| ${r.step} | ${WRITES_PER_STEP} | ${r.sent} | ${r.crashesSeen} | ${r.retries} | ${r.acknowledged} | 0 | 0 |`).join("\n") +
          "\n",
      );
    }
  });

  function writeOf(kind: Kind, i: number): Write {
    const key = randomUUID();
    const marker = `${kind}-${i}-${key.slice(0, 8)}`;
    switch (kind) {
      case "entity":
        return { kind, key, marker, method: "POST", path: "/admin/v1/entities", body: { name: marker }, auth: `Bearer ${ADMIN_TOKEN}` };
      case "connector":
        return { kind, key, marker, method: "PATCH", path: "/v1/integrations/stripe", body: { display_name: marker }, auth: bearer };
      case "connection":
        return { kind, key, marker, method: "POST", path: "/connections", body: { customer_id: marker, retailer_id: "walmart" }, auth: `apikey ${bearer.slice(7)}` };
      case "shop":
        return { kind, key, marker, method: "PATCH", path: `/api/v3/integrations/${shopId}`, body: { shop_name: marker }, auth: basic };
    }
  }

  const starting: Array<Promise<ServerProcess> | null> = [null, null];

  /** Process i, started anew (once, however many writers find it dead) when it has died or runs another switch. */
  async function server(i: number, crash: string): Promise<ServerProcess> {
    const pending = starting[i];
    if (pending) return pending;
    const current = servers[i];
    if (current && current.child.exitCode === null && current.child.signalCode === null && current.crash === crash) return current;
    const start = (async () => {
      if (current) await current.stop();
      const s = Object.assign(await startTestServerProcess({ ...env, PATCHBAY_FAULT_CRASH: crash }), { crash });
      servers[i] = s;
      return s;
    })();
    starting[i] = start;
    try {
      return await start;
    } finally {
      starting[i] = null;
    }
  }

  /** Sends one write until it is answered: an unanswered attempt (the process died) is retried with the same key, on any process. */
  async function deliver(write: Write, crash: string, tally: Tally): Promise<{ status: number; body: string }> {
    for (let attempt = 0; attempt < 200; attempt++) {
      const s = await server(Math.floor(Math.random() * 2), crash);
      tally.sent++;
      const headers: Record<string, string> = { "content-type": "application/json", "idempotency-key": write.key };
      if (write.auth.startsWith("apikey ")) headers["x-api-key"] = write.auth.slice(7);
      else headers.authorization = write.auth;
      let res: Response;
      try {
        res = await fetch(`${s.url}${write.path}`, { method: write.method, headers, body: JSON.stringify(write.body), signal: AbortSignal.timeout(20_000) });
      } catch {
        tally.crashesSeen++;
        tally.retries++;
        continue;
      }
      const body = await res.text().catch(() => null);
      if (body === null) {
        tally.crashesSeen++;
        tally.retries++;
        continue;
      }
      // Still executing elsewhere (its process may be dying), or the database was briefly unreachable: ask again.
      // The /connections surface answers it in its own shape, {detail}, which carries the message and no code.
      if (res.status === 409 && (body.includes("idempotency_key_in_use") || body.includes("is still being processed"))) {
        tally.retries++;
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      assert.ok(res.status < 500, `${write.method} ${write.path}: ${res.status} ${body}`);
      return { status: res.status, body };
    }
    throw new Error(`${write.marker}: never answered`);
  }

  async function count(query: string, marker: string): Promise<number> {
    const { rows } = await sql.query<{ n: string }>(query, [marker]);
    return Number(rows[0]!.n);
  }

  /** What one executed write leaves behind: its row, its audit entry, its event — each exactly once. */
  async function assertExactlyOnce(write: Write): Promise<void> {
    const m = write.marker;
    switch (write.kind) {
      case "entity":
        assert.equal(await count("select count(*) as n from entities where name = $1", m), 1, `${m}: entities`);
        assert.equal(await count("select count(*) as n from audit_events where action = 'entity.created' and changes->'name'->>'after' = $1", m), 1, `${m}: audit`);
        return;
      case "connector":
        assert.equal(await count("select count(*) as n from audit_events where action = 'connector.updated' and changes->'display_name'->>'after' = $1", m), 1, `${m}: audit`);
        assert.equal(await count("select count(*) as n from events where type = 'connector.updated' and data->>'display_name' = $1", m), 1, `${m}: events`);
        return;
      case "connection":
        assert.equal(await count("select count(*) as n from connections where customer_id = $1", m), 1, `${m}: connections`);
        return;
      case "shop":
        assert.equal(await count("select count(*) as n from audit_events where action = 'shop_integration.updated' and changes->'shop_name'->>'after' = $1", m), 1, `${m}: audit`);
        assert.equal(await count("select count(*) as n from events where type = 'shop_integration.updated' and data->>'shop_name' = $1", m), 1, `${m}: events`);
        return;
    }
  }

  for (const step of FAULT_STEPS) {
    it(`killed ${step.replace("_", " ")}: every write answered, each executed exactly once, none lost`, async () => {
      const crash = `${step}:${CRASH_PROBABILITY}`;
      const tally: Tally = { sent: 0, crashesSeen: 0, retries: 0, acknowledged: 0 };
      const kinds: Kind[] = ["entity", "connector", "connection", "shop"];
      const writes = Array.from({ length: WRITES_PER_STEP }, (_, i) => writeOf(kinds[i % kinds.length]!, i));
      const queue = [...writes];
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          for (let w = queue.shift(); w; w = queue.shift()) {
            const answer = await deliver(w, crash, tally);
            assert.ok(answer.status < 300, `${w.marker}: ${answer.status} ${answer.body}`);
            tally.acknowledged++;
          }
        }),
      );
      for (const w of writes) await assertExactlyOnce(w);
      results.push({ step, ...tally });
      assert.equal(tally.acknowledged, WRITES_PER_STEP);
    });
  }

  it("a write held by a slow database is never executed twice: a retry on the other process waits, then replays the one answer", async () => {
    const a = await server(0, "after_commit:0.000001");
    const b = await server(1, "after_commit:0.000001");
    const marker = `slow-${randomUUID().slice(0, 8)}`;
    const key = randomUUID();
    const send = (s: ServerProcess) =>
      fetch(`${s.url}/v1/integrations/stripe`, {
        method: "PATCH",
        headers: { authorization: bearer, "content-type": "application/json", "idempotency-key": key },
        body: JSON.stringify({ display_name: marker }),
      }).then(async (r) => ({ status: r.status, body: await r.text(), replayed: r.headers.get("idempotent-replayed") === "true" }));
    // The database is slow for this write: its connector row is locked by someone else for 3 s.
    const locker = new pg.Client({ connectionString: database.url! });
    await locker.connect();
    await locker.query("begin");
    await locker.query("select 1 from connectors where connector_type = 'stripe' for update");
    const first = send(a);
    await new Promise((r) => setTimeout(r, 1500));
    const retries = await Promise.all([send(b), send(a), send(b)]);
    for (const r of retries) {
      assert.equal(r.status, 409, r.body);
      assert.match(r.body, /idempotency_key_in_use/);
    }
    await new Promise((r) => setTimeout(r, 1500));
    await locker.query("commit");
    await locker.end();
    const answered = await first;
    assert.equal(answered.status, 200, answered.body);
    const replay = await send(b);
    assert.equal(replay.status, 200);
    assert.equal(replay.replayed, true);
    assert.equal(replay.body, answered.body);
    assert.equal(await count("select count(*) as n from audit_events where action = 'connector.updated' and changes->'display_name'->>'after' = $1", marker), 1);
    assert.equal(await count("select count(*) as n from events where type = 'connector.updated' and data->>'display_name' = $1", marker), 1);
  });
});
