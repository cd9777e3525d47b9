import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ADMIN_TOKEN } from "./helpers/app.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/databases.ts";
import { startFakeProvider, type FakeProvider } from "./helpers/fake-provider.ts";
import { startTestServerProcess, type ServerProcess } from "./helpers/process.ts";

// Two Patchbay server processes on one PostgreSQL database. Each admits keys
// and proxies to connectors from memory (src/services/admission.ts,
// src/services/credentials.ts, src/db/change-feed.ts); what one process
// changes, the other must stop using within the documented bound
// (PATCHBAY_CACHE_TTL_MS, 1 s, README "Revocation"), and the rate limit
// granted to both together never exceeds the key's limit.

const BOUND_MS = 1000;

interface Http {
  status: number;
  body: any;
}

async function call(server: ServerProcess, method: string, path: string, token: string, body?: unknown): Promise<Http> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Calls `probe` until it answers `status`; the milliseconds that took (or fails past `limitMs`). */
async function msUntil(probe: () => Promise<number>, status: number, limitMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const got = await probe();
    const elapsed = performance.now() - started;
    if (got === status) return elapsed;
    assert.ok(elapsed <= limitMs, `still ${got} after ${Math.round(elapsed)} ms (bound ${limitMs} ms)`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function keyFor(server: ServerProcess, name: string, extra: Record<string, unknown> = {}): Promise<{ id: string; key: string }> {
  const entity = await call(server, "POST", "/admin/v1/entities", ADMIN_TOKEN, { name });
  assert.equal(entity.status, 201);
  const key = await call(server, "POST", `/admin/v1/entities/${entity.body.id}/api-keys`, ADMIN_TOKEN, {
    name: "k",
    mode: "live",
    scopes: ["integrations:read", "integrations:write", "integrations:proxy"],
    ...extra,
  });
  assert.equal(key.status, 201, JSON.stringify(key.body));
  return { id: key.body.id, key: key.body.key };
}

describe("[postgres] two processes: what one changes, the other stops using within the bound", () => {
  let database: TestDatabase;
  let stripe: FakeProvider;
  let a: ServerProcess;
  let b: ServerProcess;
  before(async () => {
    database = await createTestDatabase("postgres");
    stripe = await startFakeProvider({ "*": () => ({ status: 200, body: { object: "balance" } }) });
    const env = { DATABASE_URL: database.url!, PATCHBAY_PROVIDER_URL_STRIPE: stripe.url, PATCHBAY_AUTH_FAILURES_PER_MINUTE: "1000000" };
    a = await startTestServerProcess(env);
    b = await startTestServerProcess(env);
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await stripe?.close();
    await database?.close();
  });

  it("a key revoked through one process is refused by the other within 1 s", async () => {
    const { id, key } = await keyFor(a, "Revoke Inc");
    // B admits the key and keeps it (a few requests: its grant covers more than one).
    for (let i = 0; i < 5; i++) assert.equal((await call(b, "GET", "/v1/integrations", key)).status, 200);
    assert.equal((await call(a, "DELETE", `/admin/v1/api-keys/${id}`, ADMIN_TOKEN)).status, 200);
    const ms = await msUntil(async () => (await call(b, "GET", "/v1/integrations", key)).status, 401, BOUND_MS);
    // And it stays refused.
    for (let i = 0; i < 3; i++) assert.equal((await call(b, "GET", "/v1/integrations", key)).status, 401);
    assert.ok(ms <= BOUND_MS, `${ms} ms`);
  });

  it("a key rolled with no overlap through one process is refused by the other within 1 s; its successor works there at once", async () => {
    const { id, key } = await keyFor(a, "Roll Inc");
    for (let i = 0; i < 5; i++) assert.equal((await call(b, "GET", "/v1/integrations", key)).status, 200);
    const rolled = await call(a, "POST", `/admin/v1/api-keys/${id}/roll`, ADMIN_TOKEN, { overlap_seconds: 0 });
    assert.equal(rolled.status, 201, JSON.stringify(rolled.body));
    await msUntil(async () => (await call(b, "GET", "/v1/integrations", key)).status, 401, BOUND_MS);
    assert.equal((await call(b, "GET", "/v1/integrations", rolled.body.key)).status, 200);
  });

  it("a connector paused through one process is not proxied to by the other after 1 s; new credentials are used within 1 s", async () => {
    const { key } = await keyFor(a, "Pause Inc");
    assert.equal((await call(a, "POST", "/v1/integrations/stripe", key, { mode: "live" })).status, 201);
    assert.equal((await call(a, "PUT", "/v1/integrations/stripe/credentials", key, { secret_key: "sk_live_first" })).status, 200);
    for (let i = 0; i < 5; i++) assert.equal((await call(b, "GET", "/v1/integrations/stripe/proxy/v1/balance", key)).status, 200);
    assert.equal(stripe.requests.at(-1)?.headers.authorization, "Bearer sk_live_first");

    assert.equal((await call(a, "PUT", "/v1/integrations/stripe/credentials", key, { secret_key: "sk_live_second" })).status, 200);
    await msUntil(
      async () => {
        const res = await call(b, "GET", "/v1/integrations/stripe/proxy/v1/balance", key);
        return stripe.requests.at(-1)?.headers.authorization === "Bearer sk_live_second" ? res.status : -1;
      },
      200,
      BOUND_MS,
    );

    assert.equal((await call(a, "PATCH", "/v1/integrations/stripe", key, { is_active: false })).status, 200);
    await msUntil(async () => (await call(b, "GET", "/v1/integrations/stripe/proxy/v1/balance", key)).status, 409, BOUND_MS);
    const sent = stripe.requests.length;
    assert.equal((await call(b, "GET", "/v1/integrations/stripe/proxy/v1/balance", key)).status, 409);
    assert.equal(stripe.requests.length, sent);
  });

  it("the two processes together never admit a key beyond its limit", async () => {
    const perMinute = 40;
    const { key } = await keyFor(a, "Limit Inc", { rate_limit: { per_minute: perMinute, burst: perMinute } });
    // Not across a minute's end (the sliding minute would let a little more in as the previous one fades).
    while (Date.now() % 60_000 > 55_000) await new Promise((r) => setTimeout(r, 200));
    const statuses = await Promise.all(Array.from({ length: 3 * perMinute }, (_, i) => call(i % 2 ? a : b, "GET", "/v1/integrations", key).then((r) => r.status)));
    const admitted = statuses.filter((s) => s === 200).length;
    assert.ok(statuses.every((s) => s === 200 || s === 429), statuses.join(","));
    assert.ok(admitted <= perMinute, `${admitted} admitted, limit ${perMinute}`);
    // Grants near the limit are small and the unused rest comes back: most of the limit is usable.
    assert.ok(admitted >= perMinute / 2, `only ${admitted} of ${perMinute} admitted`);
  });
});
