import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, it } from "node:test";
import { SCOPES } from "../src/auth/scopes.ts";
import { ADMIN_TOKEN } from "./helpers/app.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/databases.ts";
import { playProvider, startFakeProvider, type FakeProvider, type PlayedProvider } from "./helpers/fake-provider.ts";
import { SHIP_FROM } from "./helpers/fixtures.ts";
import { startTestServerProcess, type ServerProcess } from "./helpers/process.ts";

/** An entity, a key and a connector with the sample credentials, set up over HTTP on a running server. */
async function provision(server: ServerProcess, type: string, credentials: Record<string, string>, fields: Record<string, string> = {}): Promise<string> {
  const admin = (method: string, path: string, body: unknown) =>
    fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: await r.json() }));
  const entity = await admin("POST", "/admin/v1/entities", { name: `proxy ${type}` });
  assert.equal(entity.status, 201);
  const key = await admin("POST", `/admin/v1/entities/${entity.body.id}/api-keys`, { name: "k", mode: "live", scopes: SCOPES });
  assert.equal(key.status, 201);
  const apiKey = key.body.key as string;
  const as = (method: string, path: string, body?: unknown) =>
    fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  assert.equal((await as("POST", `/v1/integrations/${type}`, { mode: "live", ...fields })).status, 201);
  assert.equal((await as("PUT", `/v1/integrations/${type}/credentials`, credentials)).status, 200);
  return apiKey;
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m![1]);
}

describe("[postgres] minted tokens: minted once across processes", () => {
  let database: TestDatabase;
  let ups: PlayedProvider;
  const servers: ServerProcess[] = [];
  before(async () => {
    database = await createTestDatabase("postgres");
    // A slow token endpoint, so both processes find the token missing at the same time.
    ups = await playProvider("ups", { tokenDelayMs: 400 });
    for (let i = 0; i < 2; i++) servers.push(await startTestServerProcess({ DATABASE_URL: database.url!, ...ups.env() }));
  });
  after(async () => {
    for (const s of servers) await s.stop();
    await ups.fake.close();
    await database.close();
  });

  it("ten concurrent calls through two server processes: one mint, every call carries it", async () => {
    const apiKey = await provision(servers[0]!, "ups", ups.credentials, SHIP_FROM);
    const calls = Array.from({ length: 10 }, (_, i) =>
      fetch(`${servers[i % 2]!.url}/v1/integrations/ups/proxy/api/rating/v2403/Rate`, { headers: { authorization: `Bearer ${apiKey}` } }).then(async (r) => ({ status: r.status, body: await r.text() })),
    );
    const answers = await Promise.all(calls);
    for (const a of answers) assert.equal(a.status, 200, a.body);
    assert.equal(ups.mints(), 1, "the token was minted once for both processes");
    const tokens = new Set(ups.apiCalls().map((r) => r.headers.authorization));
    assert.equal(tokens.size, 1);
  });
});

describe("[pglite] a 100 MB provider answer streams through a server process with flat memory", () => {
  let big: FakeProvider;
  let server: ServerProcess;
  const SIZE = 100 * 1024 * 1024;
  before(async () => {
    big = await startFakeProvider({
      "GET /v1/files/small": () => ({ streamBytes: 1024 }),
      "GET /v1/files/medium": () => ({ streamBytes: 16 * 1024 * 1024 }),
      "GET /v1/files/big": () => ({ streamBytes: SIZE }),
    });
    server = await startTestServerProcess({ PATCHBAY_PROVIDER_URL_STRIPE: big.url });
  });
  after(async () => {
    await server.stop();
    await big.close();
  });

  it("the whole body arrives and the server's RSS grows by less than 30 MB", async () => {
    const apiKey = await provision(server, "stripe", { secret_key: "sk_test_pbstream0001" });
    const headers = { authorization: `Bearer ${apiKey}` };
    // Warm up the path (modules, pools) before the baseline, and the heap's young generation with it: after an idle
    // spell V8 may have shrunk it, and its growing back to its working size (32 MB) is not the proxy holding the body.
    for (let i = 0; i < 3; i++) await (await fetch(`${server.url}/v1/integrations/stripe/proxy/v1/files/small`, { headers })).arrayBuffer();
    for (let i = 0; i < 2; i++) for await (const _ of (await fetch(`${server.url}/v1/integrations/stripe/proxy/v1/files/medium`, { headers })).body!);
    const pid = server.child.pid!;
    const baseline = rssKb(pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKb(pid))), 20);
    let received = 0;
    try {
      const res = await fetch(`${server.url}/v1/integrations/stripe/proxy/v1/files/big`, { headers });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-length"), String(SIZE));
      // Read slowly enough that a buffering proxy would have to hold the body.
      for await (const chunk of res.body!) received += (chunk as Uint8Array).length;
    } finally {
      clearInterval(sampler);
    }
    assert.equal(received, SIZE);
    const growthMb = (peak - baseline) / 1024;
    console.log(`proxy streaming: baseline RSS ${(baseline / 1024).toFixed(1)} MB, peak ${(peak / 1024).toFixed(1)} MB, growth ${growthMb.toFixed(1)} MB for ${SIZE / 1024 / 1024} MB`);
    assert.ok(growthMb < 30, `RSS grew by ${growthMb.toFixed(1)} MB`);
  });
});
