import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { ADMIN_TOKEN } from "../helpers/app.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/databases.ts";
import { startTestServerProcess, type ServerProcess } from "../helpers/process.ts";

// Issue 13, part (f) of the fault suite, "guessing": real server processes,
// real sockets. On loopback every 127.x.y.z is this machine, so binding the
// client socket to another one is another client address, without teaching
// the server to believe X-Forwarded-For.
const ADMIN_GUESSER = "127.0.0.1";
const KEY_GUESSER = "127.0.0.3";
const LEGITIMATE = "127.0.0.2";
const LIMIT = 20; // the default PATCHBAY_AUTH_FAILURES_PER_MINUTE
const ADMIN_GUESSES = 300;
const KEY_GUESSES = 200;
const PARALLEL = 10;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const agents = new Map<string, http.Agent>();
/** One keep-alive pool per client address, as one client would have. */
function agentFor(localAddress: string): http.Agent {
  let agent = agents.get(localAddress);
  if (!agent) {
    agent = new http.Agent({ keepAlive: true, maxSockets: PARALLEL, localAddress } as http.AgentOptions);
    agents.set(localAddress, agent);
  }
  return agent;
}

function send(base: string, from: string, method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<Answer> {
  const url = new URL(path, base);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method, agent: agentFor(from), headers: { ...headers, ...(payload ? { "content-type": "application/json" } : {}) }, timeout: 5_000 },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} from ${from}: no answer in 5 s`)));
    req.on("error", reject);
    req.end(payload);
  });
}

const unknownKey = () => `ark_live_ent_${randomBytes(30).toString("base64url").replace(/[-_]/g, "x").slice(0, 40)}`;

/** `count` requests, PARALLEL at a time; the answers in the order they were sent. */
async function flood(count: number, one: (i: number) => Promise<Answer>): Promise<Answer[]> {
  const answers: Answer[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < count) {
        const i = next++;
        answers[i] = await one(i);
      }
    }),
  );
  return answers;
}

function assertRetryAfter(a: Answer): void {
  const retryAfter = Number(a.headers["retry-after"]);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 120, `Retry-After ${a.headers["retry-after"]}`);
}

/** The flood's verdict: at most LIMIT (+1 if it straddles a minute) answered 401, every other one 429 in the flat shape. */
function assertThrottled(answers: Answer[], label: string): { unauthorized: number; throttled: number } {
  const unauthorized = answers.filter((a) => a.status === 401).length;
  const throttled = answers.filter((a) => a.status === 429);
  assert.equal(unauthorized + throttled.length, answers.length, `${label}: only 401 and 429: ${[...new Set(answers.map((a) => a.status))]}`);
  assert.ok(unauthorized >= LIMIT && unauthorized <= LIMIT + 2, `${label}: ${unauthorized} answered 401`);
  for (const a of throttled) {
    const body = JSON.parse(a.body);
    assert.equal(body.code, "too_many_failed_authentications", a.body);
    assert.equal(body.type, "rate_limit");
    assert.match(body.request_id, /^req_/);
    assertRetryAfter(a);
  }
  // Once throttled, it stays throttled for the rest of the flood (the first PARALLEL past the limit may still be in flight).
  assert.ok(answers.slice(LIMIT + 2 + PARALLEL).every((a) => a.status === 429), `${label}: a late guess got through`);
  return { unauthorized, throttled: throttled.length };
}

for (const kind of ["pglite", "postgres"] as const) {
  describe(`[${kind}] guessing credentials against a running server is braked (issue 13, point 8)`, () => {
    let database: TestDatabase | undefined;
    let servers: ServerProcess[] = [];
    let apiKey = "";
    let publicKey = "";

    before(async () => {
      if (kind === "postgres") {
        database = await createTestDatabase("postgres");
        // Two processes on one PostgreSQL: the guesses are spread over both, the count is one.
        const env = { DATABASE_URL: database.url! };
        servers = await Promise.all([startTestServerProcess(env), startTestServerProcess(env)]);
      } else {
        servers = [await startTestServerProcess({})];
      }
      const admin = (path: string, body: unknown) => send(servers[0]!.url, LEGITIMATE, "POST", path, { authorization: `Bearer ${ADMIN_TOKEN}` }, body);
      const entity = JSON.parse((await admin("/admin/v1/entities", { name: "Guessing" })).body);
      const key = JSON.parse((await admin(`/admin/v1/entities/${entity.id}/api-keys`, { name: "legit", mode: "live", scopes: ["integrations:read"] })).body);
      apiKey = key.key;
      publicKey = key.public_key;
    });

    after(async () => {
      for (const agent of agents.values()) agent.destroy();
      agents.clear();
      await Promise.all(servers.map((s) => s.stop()));
      await database?.close();
    });

    const server = (i: number) => servers[i % servers.length]!.url;

    it(`${ADMIN_GUESSES} wrong admin tokens and ${KEY_GUESSES} unknown keys: ${LIMIT} failures each, then 429 + Retry-After; the legitimate client is never refused`, async () => {
      const legitimate: Answer[] = [];
      let flooding = true;
      // The legitimate client keeps working from its own address all through both floods.
      const bystander = (async () => {
        for (let i = 0; flooding; i++) {
          legitimate.push(await send(server(i), LEGITIMATE, "GET", "/v1/integrations/catalog", { authorization: `Bearer ${apiKey}` }));
          legitimate.push(await send(server(i + 1), LEGITIMATE, "GET", "/admin/v1/entities", { authorization: `Bearer ${ADMIN_TOKEN}` }));
          // Well inside the key's own rate limit (burst 50/s): this is about the guessers' brake, not the key's.
          await new Promise((r) => setTimeout(r, 50));
        }
      })();

      const startedAdmin = performance.now();
      const adminAnswers = await flood(ADMIN_GUESSES, (i) => send(server(i), ADMIN_GUESSER, "GET", "/admin/v1/entities", { authorization: `Bearer pb_admin_guess_${i}_${randomBytes(12).toString("hex")}` }));
      const adminSeconds = (performance.now() - startedAdmin) / 1000;
      const startedKeys = performance.now();
      const keyAnswers = await flood(KEY_GUESSES, (i) => send(server(i), KEY_GUESSER, "GET", "/v1/integrations/catalog", { authorization: `Bearer ${unknownKey()}` }));
      const keySeconds = (performance.now() - startedKeys) / 1000;
      flooding = false;
      await bystander;

      const admin = assertThrottled(adminAnswers, "admin tokens");
      const keys = assertThrottled(keyAnswers, "API keys");
      assert.ok(legitimate.length >= 4, `${legitimate.length} legitimate requests`);
      for (const a of legitimate) assert.equal(a.status, 200, a.body);
      process.stdout.write(
        `[${kind}, ${servers.length} process(es)] admin tokens: ${ADMIN_GUESSES} in ${adminSeconds.toFixed(2)} s → ${admin.unauthorized} × 401, ${admin.throttled} × 429; ` +
          `API keys: ${KEY_GUESSES} in ${keySeconds.toFixed(2)} s → ${keys.unauthorized} × 401, ${keys.throttled} × 429; legitimate client: ${legitimate.length} × 200\n`,
      );
    });

    it("a throttled address is refused on every surface, in its shape, even with the valid key", async () => {
      for (let i = 0; i < servers.length; i++) {
        const v1 = await send(server(i), KEY_GUESSER, "GET", "/v1/integrations/catalog", { authorization: `Bearer ${apiKey}` });
        assert.equal(v1.status, 429, v1.body);
        assert.equal(JSON.parse(v1.body).code, "too_many_failed_authentications");
        assertRetryAfter(v1);
        const connections = await send(server(i), KEY_GUESSER, "GET", "/retailers", { "x-api-key": apiKey });
        assert.equal(connections.status, 429, connections.body);
        assert.match(JSON.parse(connections.body).detail, /Too many failed authentications/);
        assertRetryAfter(connections);
        const v3 = await send(server(i), KEY_GUESSER, "GET", "/api/v3/integrations", { authorization: `Basic ${Buffer.from(`${publicKey}:${apiKey}`).toString("base64")}` });
        assert.equal(v3.status, 429, v3.body);
        assert.equal(JSON.parse(v3.body).errors[0].code, "too_many_failed_authentications");
        assertRetryAfter(v3);
        const admin = await send(server(i), ADMIN_GUESSER, "GET", "/admin/v1/entities", { authorization: `Bearer ${ADMIN_TOKEN}` });
        assert.equal(admin.status, 429, admin.body);
        assertRetryAfter(admin);
      }
      const ok = await send(server(0), LEGITIMATE, "GET", "/v1/integrations/catalog", { authorization: `Bearer ${apiKey}` });
      assert.equal(ok.status, 200, ok.body);
    });
  });
}
