import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { generateSdk, SDK_FILES } from "../scripts/generate-sdk.ts";
import { ConnectionsError, IntegrationsError, Patchbay, PatchbayConnectionError, ShopIntegrationsError } from "../sdk/src/index.ts";
import { WALMART } from "./helpers/connections.ts";
import { ADMIN_TOKEN, startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { startFakeProvider, type FakeProvider } from "./helpers/fake-provider.ts";

describe("the SDK's generated layer has not drifted from the served OpenAPI document", () => {
  it("regenerating from /openapi.json gives the committed sdk/openapi.json, sdk/src/schema.ts and sdk/src/operations.ts", async () => {
    const t = await startTestApp("pglite");
    try {
      const served = (await t.request({ method: "GET", url: "/openapi.json" })).json();
      const files = await generateSdk(served);
      for (const [name, text] of Object.entries(files)) {
        const file = SDK_FILES[name as keyof typeof SDK_FILES];
        assert.ok(fs.readFileSync(file, "utf8") === text, `${file} is stale: run \`node --import tsx scripts/generate-sdk.ts\``);
      }
      // Every operation of the document is a method (the proxy's catch-all is the hand-written integrations.proxy).
      const ops = Object.entries(served.paths as Record<string, Record<string, { operationId: string }>>).flatMap(([p, item]) => (p.endsWith("/proxy/{path}") ? [] : Object.values(item)));
      const pb = new Patchbay() as unknown as Record<string, Record<string, unknown>>;
      const methods = new Set(Object.values(pb).flatMap((g) => (g && typeof g === "object" ? Object.getOwnPropertyNames(Object.getPrototypeOf(g)) : [])));
      for (const op of ops) assert.ok(methods.has(op.operationId), `no SDK method ${op.operationId}`);
    } finally {
      await t.close();
    }
  });
});

for (const kind of DB_KINDS) {
  describe(`the SDK against a real server (${kind})`, () => {
    let t: TestApp;
    let stripe: FakeProvider;
    let baseUrl: string;
    before(async () => {
      stripe = await startFakeProvider({ "GET /v1/balance": (req) => ({ status: 200, body: { object: "balance", auth: req.headers.authorization === "Bearer sk_live_pbsdk0001" } }) });
      t = await startTestApp(kind, { env: { PATCHBAY_PROVIDER_URL_STRIPE: stripe.url } });
      await t.app.listen({ host: "127.0.0.1", port: 0 });
      baseUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    });
    after(async () => {
      await t.close();
      await stripe.close();
    });

    it("admin → /v1 → credentials → proxy: typed methods named after the operations, one client per key", async () => {
      const admin = new Patchbay({ baseUrl, adminToken: ADMIN_TOKEN });
      const entity = await admin.admin.createAdminEntity({ body: { name: "SDK Corp" } });
      const key = await admin.admin.createAdminEntityApiKey({
        params: { path: { entity_id: entity.id } },
        body: { name: "sdk", mode: "live", scopes: ["integrations:read", "integrations:write", "integrations:proxy", "connections:read", "connections:write", "webhooks:manage"] },
      });
      const pb = new Patchbay({ baseUrl, apiKey: key.key, publicKey: key.public_key });

      const created = await pb.integrations.createIntegration({ params: { path: { connector_type: "stripe" } }, body: {} });
      assert.equal((created as { connector_type?: string }).connector_type, "stripe");
      await pb.integrations.putIntegrationCredentials({ params: { path: { connector_type: "stripe" } }, body: { secret_key: "sk_live_pbsdk0001" } });
      const { data: row } = await pb.integrations.getIntegration({ params: { path: { connector_type: "stripe" } } });
      assert.equal(row.has_credentials_secret_arn, true);
      const list = await pb.integrations.listIntegrations();
      assert.deepEqual(list.data.map((r) => r.connector_type), ["stripe"]);

      const res = await pb.integrations.proxy("stripe", "GET", "/v1/balance");
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { object: "balance", auth: true });

      // Basic auth on /api/v3 from the same client.
      const shop = await pb.shopIntegrations.listShopIntegrations();
      assert.ok(Array.isArray((shop as { data: unknown[] }).data));
    });

    it("errors are typed per surface and carry code, hint and request_id", async () => {
      const admin = new Patchbay({ baseUrl, adminToken: ADMIN_TOKEN });
      const entity = await admin.admin.createAdminEntity({ body: { name: "SDK Errors" } });
      const key = await admin.admin.createAdminEntityApiKey({ params: { path: { entity_id: entity.id } }, body: { name: "sdk", mode: "live", scopes: ["integrations:read"] } });
      const pb = new Patchbay({ baseUrl, apiKey: key.key, publicKey: key.public_key, maxRetries: 0 });

      const v1 = await pb.integrations.createIntegration({ params: { path: { connector_type: "stripe" } }, body: {} }).catch((e: unknown) => e);
      assert.ok(v1 instanceof IntegrationsError, String(v1));
      assert.equal(v1.status, 403);
      assert.equal(v1.code, "insufficient_scope");
      assert.match(v1.request_id ?? "", /^req_/);
      assert.ok(v1.hint, "the hint comes through");

      const conn = await pb.connections.listConnections({ params: { query: { customer_id: "cust-1" } } }).catch((e: unknown) => e);
      assert.ok(conn instanceof ConnectionsError, String(conn));
      assert.equal(conn.status, 403);
      assert.match(conn.request_id ?? "", /^req_/);
      assert.equal(typeof conn.detail, "string");

      const wrongBasic = new Patchbay({ baseUrl, apiKey: key.key, publicKey: "pk_wrong", maxRetries: 0 });
      const shop = await wrongBasic.shopIntegrations.listShopIntegrations().catch((e: unknown) => e);
      assert.ok(shop instanceof ShopIntegrationsError, String(shop));
      assert.equal(shop.status, 401);
      assert.ok(shop.errors[0]?.code, "the JSON:API error's code");
      assert.equal(shop.code, shop.errors[0]!.code);
    });

    it("the connections surface: x-api-key, then the connection token as Bearer on per-connection routes", async () => {
      const admin = new Patchbay({ baseUrl, adminToken: ADMIN_TOKEN });
      const entity = await admin.admin.createAdminEntity({ body: { name: "SDK Connections" } });
      const key = await admin.admin.createAdminEntityApiKey({ params: { path: { entity_id: entity.id } }, body: { name: "sdk", mode: "live", scopes: ["connections:read", "connections:write"] } });
      const pb = new Patchbay({ baseUrl, apiKey: key.key });
      const connection = await pb.connections.createConnection({ body: { customer_id: "cust-sdk", retailer_id: WALMART } });
      const { connection_token } = await pb.connections.createConnectionToken({ params: { path: { connection_id: connection.connection_id } }, body: { scope: "access" } });
      const without = await pb.connections.getConnection({ params: { path: { connection_id: connection.connection_id } } }).catch((e: unknown) => e);
      assert.ok(without instanceof ConnectionsError && without.status === 401, String(without));
      const got = await pb.withConnectionToken(connection_token).connections.getConnection({ params: { path: { connection_id: connection.connection_id } } });
      assert.equal(got.connection_id, connection.connection_id);
    });
  });
}

describe("the SDK's retries (a scripted server)", () => {
  type Seen = { method: string; key: string | undefined };
  let seen: Seen[] = [];
  let script: Array<(res: http.ServerResponse, req: http.IncomingMessage) => void> = [];
  let server: http.Server;
  let baseUrl: string;
  before(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        seen.push({ method: req.method!, key: req.headers["idempotency-key"] as string | undefined });
        const next = script.shift() ?? ((r) => r.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data: { ok: true } })));
        next(res, req);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) => (res: http.ServerResponse) =>
    res.writeHead(status, { "content-type": "application/json", "x-request-id": "req_scripted", ...headers }).end(JSON.stringify(body));

  it("a write gets one Idempotency-Key, reused on its retries after 409 idempotency_key_in_use, 429 (Retry-After), 503 and a dropped connection", async () => {
    seen = [];
    script = [
      json(409, { error: "idempotency_key_in_use", code: "idempotency_key_in_use", type: "conflict", request_id: "req_1" }),
      json(429, { error: "rate_limit_exceeded", code: "rate_limit_exceeded", type: "rate_limit", request_id: "req_2" }, { "retry-after": "0" }),
      json(503, { error: "service_unavailable", code: "service_unavailable", type: "api_error", request_id: "req_3" }, { "retry-after": "0" }),
      (res) => res.socket?.destroy(),
    ];
    const pb = new Patchbay({ baseUrl, apiKey: "ark_live_ent_x", maxRetries: 4 });
    const started = Date.now();
    const out = await pb.integrations.updateIntegration({ params: { path: { connector_type: "stripe" } }, body: { display_name: "x" } });
    assert.deepEqual(out, { data: { ok: true } });
    assert.equal(seen.length, 5);
    assert.ok(seen[0]!.key && /^[0-9a-f-]{36}$/.test(seen[0]!.key), "a UUID key");
    assert.deepEqual(new Set(seen.map((s) => s.key)).size, 1, "the same key on every attempt");
    assert.ok(Date.now() - started < 8000);

    // A second write has its own key; a GET has none.
    seen = [];
    await pb.integrations.updateIntegration({ params: { path: { connector_type: "stripe" } }, body: { display_name: "y" } });
    await pb.integrations.listIntegrations();
    assert.notEqual(seen[0]!.key, undefined);
    assert.equal(seen[1]!.key, undefined);
  });

  it("Retry-After is honoured; the retries stop at maxRetries with the last error, typed; other 4xx are not retried", async () => {
    seen = [];
    script = [json(429, { error: "rate_limit_exceeded", code: "rate_limit_exceeded", type: "rate_limit", request_id: "req_a" }, { "retry-after": "1" }), json(429, { code: "rate_limit_exceeded", request_id: "req_b" }, { "retry-after": "1" })];
    const pb = new Patchbay({ baseUrl, apiKey: "ark_live_ent_x", maxRetries: 1 });
    const started = Date.now();
    const err = await pb.integrations.listIntegrations().catch((e: unknown) => e);
    assert.ok(Date.now() - started >= 950, "waited for Retry-After: 1");
    assert.ok(err instanceof IntegrationsError);
    assert.equal(err.code, "rate_limit_exceeded");
    assert.equal(err.request_id, "req_b");
    assert.equal(seen.length, 2);

    seen = [];
    script = [json(409, { error: "conflict", code: "conflict", type: "conflict", request_id: "req_c" })];
    const conflict = await pb.integrations.createIntegration({ params: { path: { connector_type: "stripe" } }, body: {} }).catch((e: unknown) => e);
    assert.ok(conflict instanceof IntegrationsError && conflict.code === "conflict");
    assert.equal(seen.length, 1, "a plain conflict is not retried");
  });

  it("a timeout abandons the attempt; with no answer at all the error is a PatchbayConnectionError", async () => {
    seen = [];
    script = [() => undefined, () => undefined];
    const pb = new Patchbay({ baseUrl, apiKey: "ark_live_ent_x", maxRetries: 1, timeout: 200 });
    const err = await pb.integrations.listIntegrations().catch((e: unknown) => e);
    assert.ok(err instanceof PatchbayConnectionError, String(err));
    assert.equal(seen.length, 2);
  });
});
