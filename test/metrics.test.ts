import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startMetricsServer } from "../src/metrics/server.ts";
import { createProviderClient } from "../src/providers/client.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { startFakeProvider, type FakeProvider } from "./helpers/fake-provider.ts";
import { asKey, createTenant } from "./helpers/fixtures.ts";
import { createEndpoint, emit, startReceiver, type Receiver } from "./helpers/webhooks.ts";

const TOKEN = "metrics-token-0123456789";

/** The exposition text as {series name + labels → value}, checking every sample line parses. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${line}`);
    samples.set(`${m[1]}${m[2] ?? ""}`, Number(m[3]));
  }
  return samples;
}

const value = (samples: Map<string, number>, name: string, labels: Record<string, string> = {}) => {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let total: number | undefined;
  for (const [key, v] of samples) {
    if (!(key === name || key.startsWith(`${name}{`))) continue;
    if (want.every((w) => key.includes(w))) total = (total ?? 0) + v;
  }
  return total;
};

for (const kind of DB_KINDS) {
  describe(`[${kind}] GET /metrics (Prometheus) and the probes`, () => {
    let t: TestApp;
    let stripe: FakeProvider;
    let receiver: Receiver;
    before(async () => {
      stripe = await startFakeProvider({ "GET /v1/account": () => ({ body: { id: "acct_1", object: "account" } }) });
      receiver = await startReceiver([500]);
      t = await startTestApp(kind, {
        env: { PATCHBAY_METRICS_TOKEN: TOKEN, PATCHBAY_PROVIDER_URL_STRIPE: stripe.url, PATCHBAY_WEBHOOK_ALLOW_PRIVATE: "true", PATCHBAY_RATE_LIMIT_TEST_BURST: "3" },
        providers: (config, logger) => createProviderClient({ config, logger, sleep: async () => {} }),
      });
    });
    after(async () => {
      await t.close();
      await stripe.close();
      await receiver.close();
    });

    const scrape = async () => {
      const res = await t.request({ method: "GET", url: "/metrics", headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(res.statusCode, 200, res.body);
      assert.match(String(res.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
      return parseExposition(res.body);
    };

    it("counts requests per route pattern and status, rate-limit refusals, idempotency replays, provider calls, webhook attempts, vault operations, the queue and the pool", async () => {
      const tenant = await createTenant(t);
      const v1 = asKey(t, tenant);
      assert.equal((await v1("POST", "/v1/integrations/stripe", { mode: "live" })).statusCode, 201);
      assert.equal((await v1("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_test_1" })).statusCode, 200);
      assert.equal((await v1("POST", "/v1/integrations/stripe/verify")).statusCode, 200);
      assert.equal((await v1("GET", "/v1/integrations/stripe")).statusCode, 200);
      assert.equal((await v1("GET", "/v1/integrations/shippo")).statusCode, 404);
      const headers = { "idempotency-key": "metrics-1" };
      assert.equal((await v1("PATCH", "/v1/integrations/stripe", { display_name: "A" }, headers)).statusCode, 200);
      const replay = await v1("PATCH", "/v1/integrations/stripe", { display_name: "A" }, headers);
      assert.equal(replay.headers["idempotent-replayed"], "true");
      assert.equal((await v1("PATCH", "/v1/integrations/stripe", { display_name: "B" }, headers)).statusCode, 409);
      await createEndpoint(t, tenant, { url: receiver.url, events: ["*"] });
      await emit(t, tenant.entityId, "connection.activated", { connection_id: "C1", status: "active" });
      await t.services.jobs.runDueJobs();

      const testKey = await createTenant(t, { mode: "test" });
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await asKey(t, testKey)("GET", "/v1/integrations")).statusCode);
      assert.ok(statuses.includes(429), `no 429 among ${statuses}`);

      const m = await scrape();
      assert.equal(value(m, "patchbay_http_requests_total", { method: "GET", route: "/v1/integrations/:connector_type", status: "200" }), 1);
      assert.equal(value(m, "patchbay_http_requests_total", { method: "GET", route: "/v1/integrations/:connector_type", status: "404" }), 1);
      assert.equal(value(m, "patchbay_http_request_duration_seconds_count", { method: "GET", route: "/v1/integrations/:connector_type", status: "200" }), 1);
      assert.ok([...m.keys()].every((k) => !k.includes("/v1/integrations/stripe")), "a raw URL became a label");
      assert.equal(value(m, "patchbay_rate_limit_refusals_total", { reason: "api_key" }), statuses.filter((s) => s === 429).length);
      assert.equal(value(m, "patchbay_idempotency_outcomes_total", { outcome: "replayed" }), 1);
      assert.equal(value(m, "patchbay_idempotency_outcomes_total", { outcome: "mismatch" }), 1);
      // The verify, and the health check that storing credentials queued.
      assert.equal(stripe.requests.length, 2);
      assert.equal(value(m, "patchbay_provider_calls_total", { provider: "stripe", status: "200" }), 2);
      assert.equal(value(m, "patchbay_provider_call_duration_seconds_count", { provider: "stripe" }), 2);
      assert.equal(value(m, "patchbay_webhook_delivery_attempts_total", { result: "failed" }), 1);
      assert.ok((value(m, "patchbay_vault_operations_total", { operation: "seal" }) ?? 0) >= 2, "credentials and the endpoint's signing secret were sealed");
      assert.ok((value(m, "patchbay_vault_operations_total", { operation: "open" }) ?? 0) >= 2);
      // The failed delivery is queued again for its retry.
      assert.equal(value(m, "patchbay_jobs_queued", { job: "webhook.deliver" }), 1);
      assert.ok((value(m, "patchbay_webhook_delivery_lag_seconds") ?? -1) >= 0);
      assert.ok(value(m, "patchbay_jobs_oldest_due_age_seconds", { job: "webhook.deliver" }) !== undefined);
      assert.equal(value(m, "patchbay_db_pool_connections"), kind === "pglite" ? 1 : value(m, "patchbay_db_pool_connections"));
      assert.ok(value(m, "patchbay_db_pool_waiting") !== undefined && value(m, "patchbay_db_pool_connections_in_use") !== undefined);
      assert.ok((value(m, "patchbay_process_resident_memory_bytes") ?? 0) > 0, "process metrics");
      assert.ok(value(m, "patchbay_nodejs_eventloop_lag_seconds") !== undefined);
    });

    it("needs the metrics token: 401 without it or with another one, in the flat error shape", async () => {
      for (const authorization of [undefined, "Bearer wrong-token-0123456789", `Basic ${TOKEN}`]) {
        const res = await t.request({ method: "GET", url: "/metrics", headers: authorization ? { authorization } : {} });
        assert.equal(res.statusCode, 401);
        assert.equal(res.json().code, "metrics_token_invalid");
        assert.ok(!res.body.includes("patchbay_"));
      }
    });

    it("/livez is 200; /readyz is 200 with every check ok, /healthz too", async () => {
      assert.deepEqual((await t.request({ method: "GET", url: "/livez" })).json(), { status: "ok" });
      const ready = await t.request({ method: "GET", url: "/readyz" });
      assert.equal(ready.statusCode, 200, ready.body);
      // The test app runs no job worker (PATCHBAY_JOBS=false).
      assert.deepEqual(ready.json(), { status: "ok", checks: { database: "ok", migrations: "ok", jobs: "disabled" }, pending_migrations: [] });
      assert.equal((await t.request({ method: "GET", url: "/healthz" })).statusCode, 200);
    });
  });
}

describe("[pglite] metrics off by default; readiness needs the job worker when jobs are on", () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp("pglite", { env: { PATCHBAY_JOBS: "true" } });
  });
  after(async () => t.close());

  it("/metrics answers 404 in the flat shape when no token is configured", async () => {
    const res = await t.request({ method: "GET", url: "/metrics" });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, "not_found");
  });

  it("/readyz is 503 with jobs failing until the worker runs, then 200", async () => {
    const before = await t.request({ method: "GET", url: "/readyz" });
    assert.equal(before.statusCode, 503);
    assert.equal(before.json().checks.jobs, "failing");
    t.services.jobs.start();
    try {
      const after = await t.request({ method: "GET", url: "/readyz" });
      assert.equal(after.statusCode, 200, after.body);
      assert.equal(after.json().checks.jobs, "ok");
    } finally {
      await t.services.jobs.stop(1000);
    }
  });
});

describe("[pglite] PATCHBAY_METRICS_PORT: /metrics on a loopback port of its own", () => {
  let t: TestApp;
  let server: Awaited<ReturnType<typeof startMetricsServer>>;
  before(async () => {
    t = await startTestApp("pglite", { env: { PATCHBAY_METRICS_PORT: "9464" } });
    assert.equal(t.config.metrics.host, "127.0.0.1", "loopback by default");
    server = await startMetricsServer({ metrics: t.services.metrics, host: t.config.metrics.host, port: 0 });
  });
  after(async () => {
    await server.close();
    await t.close();
  });

  it("serves the exposition without a token there, 404 for anything else; the main port still answers 404", async () => {
    assert.equal((await t.request({ method: "GET", url: "/livez" })).statusCode, 200);
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    const m = parseExposition(await res.text());
    assert.equal(value(m, "patchbay_http_requests_total", { route: "/livez", status: "200" }), 1);
    assert.equal((await fetch(`${server.url}/other`)).status, 404);
    assert.equal((await t.request({ method: "GET", url: "/metrics" })).statusCode, 404);
  });
});
