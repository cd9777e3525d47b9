import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../src/config.ts";
import { createProviderClient, ProviderError } from "../src/providers/client.ts";
import { providerBaseUrl } from "../src/providers/base-urls.ts";
import { startFakeProvider, type FakeProvider } from "./helpers/fake-provider.ts";

function captureLogger() {
  const lines: string[] = [];
  const log = (obj: object, msg: string) => void lines.push(JSON.stringify({ ...obj, msg }));
  return { lines, logger: { info: log, warn: log } };
}

describe("the provider client layer", () => {
  let fake: FakeProvider;
  let calls = 0;
  before(async () => {
    fake = await startFakeProvider({
      "GET /v1/account": () => ({ body: { id: "acct_1" } }),
      "GET /flaky": () => (++calls < 3 ? { status: 503 } : { body: { ok: true } }),
      "GET /limited": () => (++calls < 2 ? { status: 429, headers: { "retry-after": "0" } } : { body: { ok: true } }),
      "POST /charge": () => ({ status: 502 }),
      "GET /slow": () => ({ delayMs: 300, body: {} }),
      "GET /down": () => ({ status: 500 }),
    });
  });
  after(() => fake.close());

  const client = (extra: Partial<Parameters<typeof createProviderClient>[0]> = {}) => {
    const { lines, logger } = captureLogger();
    const config = loadConfig({ PATCHBAY_PROVIDER_URL_STRIPE: fake.url });
    return { lines, c: createProviderClient({ config, logger, sleep: async () => {}, ...extra }) };
  };

  it("sends every call of a provider to PATCHBAY_PROVIDER_URL_<TYPE>, same paths", async () => {
    const { c } = client();
    const res = await c.request("stripe", { method: "GET", path: "/v1/account", headers: { authorization: "Bearer sk_test_planted" } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { id: "acct_1" });
    assert.equal(fake.requests.at(-1)!.headers.authorization, "Bearer sk_test_planted");
  });

  it("retries 5xx with backoff, a bounded number of times", async () => {
    calls = 0;
    const { c } = client();
    const res = await c.request("stripe", { method: "GET", path: "/flaky" });
    assert.equal(res.status, 200);
    assert.equal(calls, 3);
    calls = 0;
    const down = await c.request("stripe", { method: "GET", path: "/down" });
    assert.equal(down.status, 500, "after the last attempt the provider's answer is returned");
  });

  it("retries 429 honouring Retry-After", async () => {
    calls = 0;
    const waits: number[] = [];
    const { c } = client({ sleep: async (ms) => void waits.push(ms) });
    const res = await c.request("stripe", { method: "GET", path: "/limited" });
    assert.equal(res.status, 200);
    assert.deepEqual(waits, [0]);
  });

  it("does not retry a POST unless asked (it might not be idempotent)", async () => {
    const before = fake.requests.length;
    const { c } = client();
    assert.equal((await c.request("stripe", { method: "POST", path: "/charge", body: { amount: 1 } })).status, 502);
    assert.equal(fake.requests.length - before, 1);
    await c.request("stripe", { method: "POST", path: "/charge", body: { amount: 1 }, retry: true });
    assert.equal(fake.requests.length - before, 4);
  });

  it("times out a slow provider with a ProviderError that names no secret", async () => {
    const { c } = client({ maxAttempts: 1 });
    await assert.rejects(
      c.request("stripe", { method: "GET", path: "/slow", timeoutMs: 50, query: { key: "sk_live_query_secret" } }),
      (err: unknown) => err instanceof ProviderError && err.failure === "timeout" && !err.message.includes("sk_live"),
    );
  });

  it("an unreachable provider is a network ProviderError", async () => {
    const direct = createProviderClient({ config: loadConfig({ PATCHBAY_PROVIDER_URL_STRIPE: "http://127.0.0.1:9" }), logger: captureLogger().logger, sleep: async () => {} });
    await assert.rejects(direct.request("stripe", { method: "GET", path: "/v1/account" }), (err: unknown) => err instanceof ProviderError && err.failure === "network");
  });

  it("logs provider, method, path, status and latency — never headers, query or body", async () => {
    const { c, lines } = client();
    await c.request("stripe", { method: "GET", path: "/v1/account", query: { q: "sk_live_in_query" }, headers: { authorization: "Bearer sk_live_in_header" } });
    await c.request("stripe", { method: "POST", path: "/charge", body: { secret: "sk_live_in_body" } });
    const joined = lines.join("\n");
    assert.ok(lines.length >= 2);
    assert.match(joined, /"provider":"stripe"/);
    assert.match(joined, /"status":200/);
    assert.match(joined, /"ms":\d+/);
    assert.ok(!joined.includes("sk_live"), joined);
  });

  it("knows each provider's origin, sandbox origins, and a Shopify shop's own host", () => {
    const config = loadConfig({});
    assert.equal(providerBaseUrl(config, "stripe"), "https://api.stripe.com");
    assert.equal(providerBaseUrl(config, "plaid", { mode: "sandbox" }), "https://sandbox.plaid.com");
    assert.equal(providerBaseUrl(config, "shopify", { shop: "acme.myshopify.com" }), "https://acme.myshopify.com");
    assert.equal(providerBaseUrl(loadConfig({ PATCHBAY_PROVIDER_URL_SHOPIFY: "http://127.0.0.1:9911/" }), "shopify", { shop: "acme.myshopify.com" }), "http://127.0.0.1:9911");
  });
});
