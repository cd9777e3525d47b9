import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { ADMIN_TOKEN } from "./helpers/app.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/databases.ts";
import { startServerProcess, type ServerProcess } from "./helpers/server-process.ts";

interface Answer {
  status: number;
  body: string;
  replayed: boolean;
  server: number;
}

const CONCURRENT = 200;

/**
 * The cross-process guarantee of SPEC §3, tested as a client sees it: two
 * Patchbay processes on one PostgreSQL, 200 identical requests with one key
 * fired at both at once. Only PostgreSQL: PGlite belongs to one process.
 */
describe("[postgres] two server processes on one PostgreSQL: an Idempotency-Key executes once, a rate limit is one budget", () => {
  let database: TestDatabase;
  let servers: ServerProcess[];
  let entityId: string;
  let apiKey: string;

  const send = async (server: number, method: string, path: string, key: string, body: unknown): Promise<Answer> => {
    const res = await fetch(`${servers[server]!.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", "idempotency-key": key },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.text(), replayed: res.headers.get("idempotent-replayed") === "true", server };
  };

  /** All at once, alternating between the two processes. */
  const storm = (method: string, path: string, key: string, body: unknown) =>
    Promise.all(Array.from({ length: CONCURRENT }, (_, i) => send(i % 2, method, path, key, body)));

  function assertExactlyOnce(answers: Answer[], status: number): Answer {
    const summary = () => JSON.stringify(answers.reduce<Record<string, number>>((acc, a) => ({ ...acc, [`${a.status}${a.replayed ? " replayed" : ""}`]: (acc[`${a.status}${a.replayed ? " replayed" : ""}`] ?? 0) + 1 }), {}));
    const executed = answers.filter((a) => a.status === status && !a.replayed);
    assert.equal(executed.length, 1, `exactly one execution: ${summary()}`);
    const stored = executed[0]!;
    for (const a of answers) {
      if (a.status === 409) {
        assert.equal(JSON.parse(a.body).code, "idempotency_key_in_use", a.body);
      } else {
        assert.equal(a.status, status, a.body);
        assert.equal(a.body, stored.body, "every other answer is the stored response, byte for byte");
      }
    }
    assert.ok(new Set(answers.map((a) => a.server)).size === 2, "both processes answered");
    return stored;
  }

  before(async () => {
    database = await createTestDatabase("postgres");
    const env = {
      DATABASE_URL: database.url!,
      // High limits: this test is about idempotency, not rate limiting.
      PATCHBAY_RATE_LIMIT_LIVE_PER_MINUTE: "1000000",
      PATCHBAY_RATE_LIMIT_LIVE_BURST: "1000000",
    };
    servers = await Promise.all([startServerProcess(env), startServerProcess(env)]);
    const admin = (path: string, body: unknown) =>
      fetch(`${servers[0]!.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.json());
    entityId = (await admin("/admin/v1/entities", { name: "Two processes" })).id;
    apiKey = (await admin(`/admin/v1/entities/${entityId}/api-keys`, { name: "storm", mode: "live", scopes: ["integrations:read", "integrations:write"] })).key;
  });

  after(async () => {
    await Promise.all((servers ?? []).map((s) => s.stop()));
    await database?.close();
  });

  it(`${CONCURRENT} concurrent identical POST /v1/integrations/stripe: one connector; every answer is the stored 201 or 409 in use; a retry replays it`, async () => {
    const key = randomUUID();
    const body = { display_name: "Stripe (storm)", config: { currency: "usd" } };
    const answers = await storm("POST", "/v1/integrations/stripe", key, body);
    const stored = assertExactlyOnce(answers, 201);

    const connectors = await database.db.selectFrom("connectors").select("id").where("entity_id", "=", entityId).where("connector_type", "=", "stripe").execute();
    assert.equal(connectors.length, 1);
    assert.equal(JSON.parse(stored.body).id, connectors[0]!.id);

    for (const server of [0, 1]) {
      const retry = await send(server, "POST", "/v1/integrations/stripe", key, body);
      assert.equal(retry.status, 201);
      assert.equal(retry.replayed, true);
      assert.equal(retry.body, stored.body);
    }
  });

  it(`${CONCURRENT} concurrent identical PATCH /v1/integrations/stripe: one execution; every answer is the stored 200 or 409 in use; a retry replays it`, async () => {
    const key = randomUUID();
    const body = { display_name: "Patched once", config: { capture_method: "manual" } };
    const answers = await storm("PATCH", "/v1/integrations/stripe", key, body);
    const stored = assertExactlyOnce(answers, 200);

    const row = await database.db.selectFrom("connectors").selectAll().where("entity_id", "=", entityId).where("connector_type", "=", "stripe").executeTakeFirstOrThrow();
    assert.equal(row.display_name, "Patched once");
    assert.equal(JSON.parse(stored.body).data.updated_at, row.updated_at.toISOString(), "the stored answer is the one write");

    for (const server of [1, 0]) {
      const retry = await send(server, "PATCH", "/v1/integrations/stripe", key, body);
      assert.equal(retry.status, 200);
      assert.equal(retry.replayed, true);
      assert.equal(retry.body, stored.body);
    }
    const record = await database.db.selectFrom("idempotency_keys").select(["state", "response_status"]).where("key", "=", key).executeTakeFirstOrThrow();
    assert.deepEqual(record, { state: "done", response_status: 200 });
  });

  it("a key's rate limit holds across both processes: 30 concurrent requests, exactly its 10 admitted", async () => {
    const created = await fetch(`${servers[0]!.url}/admin/v1/entities/${entityId}/api-keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "limited", mode: "live", scopes: ["integrations:read"], rate_limit: { per_minute: 10, burst: 10 } }),
    }).then((r) => r.json());
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => fetch(`${servers[i % 2]!.url}/v1/integrations/catalog`, { headers: { authorization: `Bearer ${created.key}` } }).then((r) => ({ status: r.status, limit: r.headers.get("x-ratelimit-limit") }))),
    );
    assert.equal(answers.filter((a) => a.status === 200).length, 10, JSON.stringify(answers.map((a) => a.status)));
    assert.equal(answers.filter((a) => a.status === 429).length, 20);
    assert.ok(answers.every((a) => a.limit === "10"));
  });
});
