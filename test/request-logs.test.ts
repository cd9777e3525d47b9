import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { addKey, asKey, createTenant } from "./helpers/fixtures.ts";
import { asConnectionsKey } from "./helpers/connections.ts";
import { asBasic } from "./helpers/shop-integrations.ts";
import { requestLogPath } from "../src/services/request-logs.ts";

const ITEM_FIELDS = ["api_key_id", "client_ip", "created_at", "id", "latency_ms", "method", "mode", "object", "path", "request_id", "status"];
const PLANTED = "sk_live_planted_request_log_secret_4711";

for (const kind of DB_KINDS) {
  describe(`[${kind}] the API request log (GET /v1/request_logs, last_used_at)`, () => {
    let t: TestApp;
    before(async () => {
      // A long interval: the tests flush (a listing flushes this process's buffer first).
      t = await startTestApp(kind, { env: { PATCHBAY_REQUEST_LOG_FLUSH_MS: "60000" } });
    });
    after(async () => t.close());

    it("records every surface's requests of a key with exactly the documented fields, newest first; never a header, a body or a secret query value", async () => {
      const tenant = await createTenant(t);
      const v1 = asKey(t, tenant);
      const created = await v1("POST", "/v1/integrations/stripe", { display_name: PLANTED }, { "x-planted": PLANTED });
      assert.equal(created.statusCode, 201, created.body);
      const missing = await v1("GET", "/v1/integrations/postmark");
      assert.equal(missing.statusCode, 404);
      assert.equal((await v1("GET", `/v1/integrations?api_key=${PLANTED}&limit=5`)).statusCode, 400);
      assert.equal((await asConnectionsKey(t, tenant)("GET", "/connections?customer_id=c1")).statusCode, 200);
      assert.equal((await asBasic(t, tenant)("GET", "/api/v3/integrations")).statusCode, 200);
      // Refused before a key was recognised: no entity, not logged.
      assert.equal((await asKey(t, { key: `${tenant.key.slice(0, -4)}AAAA` })("GET", "/v1/integrations")).statusCode, 401);

      const res = await v1("GET", "/v1/request_logs");
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.object, "list");
      assert.equal(body.url, "/v1/request_logs");
      assert.equal(body.has_more, false);
      assert.equal("total_count" in body, false);
      assert.deepEqual(
        body.data.map((r: { method: string; path: string; status: number }) => `${r.method} ${r.path} ${r.status}`),
        [
          "GET /api/v3/integrations 200",
          "GET /connections?customer_id=c1 200",
          "GET /v1/integrations?api_key=[redacted]&limit=5 400",
          "GET /v1/integrations/postmark 404",
          "POST /v1/integrations/stripe 201",
        ],
      );
      const row = body.data[4];
      assert.deepEqual(Object.keys(row).sort(), ITEM_FIELDS);
      assert.equal(row.object, "request_log");
      assert.equal(row.api_key_id, tenant.keyId);
      assert.equal(row.mode, "live");
      assert.equal(row.client_ip, "127.0.0.1");
      assert.equal(row.request_id, created.headers["x-request-id"]);
      assert.equal(typeof row.latency_ms, "number");
      assert.ok(row.latency_ms >= 0);
      assert.match(row.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const stored = JSON.stringify(await t.database.db.selectFrom("request_log_batches").selectAll().execute());
      assert.equal(stored.includes(PLANTED), false, "a header, body or query secret reached the request log");
      assert.equal(stored.includes(tenant.key), false);
    });

    it("filters by status (one or a class), method, path_prefix, api_key_id and time; include_count gives total_count", async () => {
      const tenant = await createTenant(t);
      const other = await addKey(t, tenant.entityId, { mode: "test" });
      const v1 = asKey(t, tenant);
      assert.equal((await v1("POST", "/v1/integrations/stripe")).statusCode, 201);
      assert.equal((await v1("GET", "/v1/integrations/stripe")).statusCode, 200);
      assert.equal((await v1("GET", "/v1/integrations/nope_type")).statusCode, 400);
      const from = new Date(t.clock.now().getTime() + 1).toISOString();
      assert.equal((await asKey(t, other)("GET", "/v1/integrations/postmark")).statusCode, 404);
      const list = async (query: string) => {
        const res = await v1("GET", `/v1/request_logs?path_prefix=/v1/integrations&${query}`);
        assert.equal(res.statusCode, 200, res.body);
        return res.json() as { data: Array<{ path: string; status: number; api_key_id: string; mode: string }>; total_count?: number; has_more: boolean };
      };
      assert.deepEqual((await list("status=4xx")).data.map((r) => r.status), [404, 400]);
      assert.deepEqual((await list("status=201")).data.map((r) => r.path), ["/v1/integrations/stripe"]);
      assert.deepEqual((await list("method=post")).data.map((r) => r.status), [201]);
      const byOther = await list(`api_key_id=${other.keyId}`);
      assert.deepEqual(byOther.data.map((r) => [r.status, r.mode]), [[404, "test"]]);
      assert.deepEqual((await list(`created_gte=${from}`)).data.map((r) => r.status), [404]);
      assert.deepEqual((await list(`created_lte=${from}`)).data.map((r) => r.status), [400, 200, 201]);
      assert.equal((await list("include_count=true&limit=1")).total_count, 4);
      // A prefix is a prefix, not a pattern: % and _ match themselves.
      assert.deepEqual((await v1("GET", "/v1/request_logs?path_prefix=/v1/int%25")).json().data, []);
    });

    it("pages with limit, starting_after and ending_before like every /v1 list", async () => {
      const tenant = await createTenant(t);
      const v1 = asKey(t, tenant);
      for (let i = 0; i < 5; i++) assert.equal((await v1("GET", `/v1/integrations?limit=${i + 1}`)).statusCode, 200);
      const q = "path_prefix=/v1/integrations";
      const first = (await v1("GET", `/v1/request_logs?${q}&limit=2`)).json();
      assert.deepEqual(first.data.map((r: { path: string }) => r.path), ["/v1/integrations?limit=5", "/v1/integrations?limit=4"]);
      assert.equal(first.has_more, true);
      const second = (await v1("GET", `/v1/request_logs?${q}&limit=2&starting_after=${first.data[1].id}`)).json();
      assert.deepEqual(second.data.map((r: { path: string }) => r.path), ["/v1/integrations?limit=3", "/v1/integrations?limit=2"]);
      const back = (await v1("GET", `/v1/request_logs?${q}&limit=2&ending_before=${second.data[0].id}`)).json();
      assert.deepEqual(back.data.map((r: { path: string }) => r.path), ["/v1/integrations?limit=5", "/v1/integrations?limit=4"]);
      assert.equal(back.has_more, false);
    });

    it("needs request_logs:read; shows only the caller's entity; bad filters answer 400 in the /v1 shape", async () => {
      const tenant = await createTenant(t);
      const stranger = await createTenant(t);
      assert.equal((await asKey(t, stranger)("GET", "/v1/integrations")).statusCode, 200);
      const mine = (await asKey(t, tenant)("GET", "/v1/request_logs")).json();
      assert.equal(mine.data.some((r: { api_key_id: string }) => r.api_key_id === stranger.keyId), false);
      const narrow = await addKey(t, tenant.entityId, { scopes: ["integrations:read"] });
      const refused = await asKey(t, narrow)("GET", "/v1/request_logs");
      assert.equal(refused.statusCode, 403, refused.body);
      for (const query of ["status=600", "status=4x", "limit=101", "api_key_id=nope", "path_prefix=v1", "created_gte=yesterday", "color=red"]) {
        const bad = await asKey(t, tenant)("GET", `/v1/request_logs?${query}`);
        assert.equal(bad.statusCode, 400, `${query}: ${bad.body}`);
        assert.equal(typeof bad.json().code, "string", bad.body);
      }
    });

    it("the admin API reads any entity's log; an unknown entity is 404", async () => {
      const tenant = await createTenant(t);
      assert.equal((await asKey(t, tenant)("GET", "/v1/integrations")).statusCode, 200);
      const res = await t.admin("GET", `/admin/v1/entities/${tenant.entityId}/request_logs?include_count=true`);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.url, `/admin/v1/entities/${tenant.entityId}/request_logs`);
      assert.equal(body.total_count, 1);
      assert.equal(body.data[0].path, "/v1/integrations");
      assert.equal((await t.admin("GET", "/admin/v1/entities/00000000-0000-7000-8000-000000000000/request_logs")).statusCode, 404);
    });

    it("last_used_at: null until used, then the key's latest request, written with the batch", async () => {
      const tenant = await createTenant(t);
      const keyOf = async () => (await t.admin("GET", `/admin/v1/entities/${tenant.entityId}/api-keys`)).json().data.find((k: { id: string }) => k.id === tenant.keyId);
      assert.equal((await keyOf()).last_used_at, null);
      assert.equal((await asKey(t, tenant)("GET", "/v1/integrations")).statusCode, 200);
      assert.equal((await asKey(t, tenant)("GET", "/v1/integrations")).statusCode, 200);
      await t.services.requestLog.flush();
      const latest = (await t.services.requestLog.list(tenant.entityId, { limit: 1, apiKeyId: tenant.keyId })).data[0]!;
      assert.equal((await keyOf()).last_used_at, latest.created_at);
      // A later batch carrying an older time (another process's) does not move it back.
      await t.services.apiKeys.markUsed(new Map([[tenant.keyId, new Date(0)]]));
      assert.equal((await keyOf()).last_used_at, latest.created_at);
    });

    it("the retention purge removes entries older than the retention, and only those", async () => {
      const tenant = await createTenant(t);
      assert.equal((await asKey(t, tenant)("GET", "/v1/integrations?limit=1")).statusCode, 200);
      await t.services.requestLog.flush();
      t.clock.advanceDays(31);
      assert.equal((await asKey(t, tenant)("GET", "/v1/integrations?limit=2")).statusCode, 200);
      const purged = await t.services.requestLog.purgeOlderThan(t.config.requestLog.retentionDays * 86_400_000);
      assert.ok(purged >= 1);
      const left = await t.services.requestLog.list(tenant.entityId, { limit: 100, apiKeyId: tenant.keyId });
      assert.deepEqual(left.data.map((r) => r.path), ["/v1/integrations?limit=2"]);
    });
  });
}

describe("[pglite] PATCHBAY_REQUEST_LOG=false", () => {
  it("records nothing and leaves last_used_at alone", async () => {
    const t = await startTestApp("pglite", { env: { PATCHBAY_REQUEST_LOG: "false" } });
    try {
      const tenant = await createTenant(t);
      assert.equal((await asKey(t, tenant)("GET", "/v1/integrations")).statusCode, 200);
      const res = await asKey(t, tenant)("GET", "/v1/request_logs");
      assert.deepEqual(res.json().data, []);
      const key = (await t.admin("GET", `/admin/v1/entities/${tenant.entityId}/api-keys`)).json().data[0];
      assert.equal(key.last_used_at, null);
    } finally {
      await t.close();
    }
  });
});

describe("requestLogPath", () => {
  it("redacts secret query values by name, keeps the rest, cuts at 2 048 characters", () => {
    assert.equal(requestLogPath("/v1/x?limit=5"), "/v1/x?limit=5");
    assert.equal(requestLogPath("/connect?connection_token=abc&state=s&hmac=h&shop=a.myshopify.com"), "/connect?connection_token=[redacted]&state=[redacted]&hmac=[redacted]&shop=a.myshopify.com");
    assert.equal(requestLogPath(`/v1/${"a".repeat(3000)}`).length, 2048);
  });
});
