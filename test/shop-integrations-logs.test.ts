import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { startFakeProvider, type FakeProvider } from "./helpers/fake-provider.ts";
import { asKey, createTenant, addKey } from "./helpers/fixtures.ts";
import { asBasic, connectShop, jsonApiErrors } from "./helpers/shop-integrations.ts";

// Integration exception logs (Sendcloud v3 integrations API, "Exception logs").

const LOG_FIELDS = [
  "id", "integration_id", "base_url", "full_url", "method", "response_code", "response", "request",
  "created_at", "exception_type", "exception", "protected", "additional_data",
];

const REFRESH_TOKEN = "Atzr|planted-refresh-token-0123456789";
const CLIENT_SECRET = "lwa-planted-client-secret-abcdef";

for (const kind of DB_KINDS) {
  describe(`[${kind}] /api/v3/integrations/…/logs`, () => {
    let t: TestApp;
    let lwa: FakeProvider;
    before(async () => {
      // Login with Amazon refuses the grant, echoing the refresh token back (a provider may): the log must not keep it.
      lwa = await startFakeProvider({
        "POST /auth/o2/token": () => ({
          status: 400,
          headers: { "x-amzn-requestid": "amzn-req-1", "set-cookie": "session=planted-cookie-value-xyz" },
          body: { error: "invalid_grant", error_description: `The refresh token ${REFRESH_TOKEN} is revoked`, access_token: "planted-access-token-zzz" },
        }),
      });
      // Stripe goes to the same fake, which does not route its path (404).
      t = await startTestApp(kind, { env: { PATCHBAY_PROVIDER_URL_AMAZON_LWA: lwa.url, PATCHBAY_PROVIDER_URL_STRIPE: lwa.url } });
    });
    after(async () => {
      await t.close();
      await lwa.close();
    });

    const shop = async () => {
      const tenant = await createTenant(t);
      const id = await connectShop(t, tenant, "amazon", { mode: "live" });
      return { tenant, id, call: asBasic(t, tenant), v1: asKey(t, tenant) };
    };

    const example = {
      base_url: "https://example.com",
      full_url: "https://example.com/order-note.json",
      method: "POST",
      response_code: 495,
      response: { headers: { "Cache-Control": "max-age=3600", "Content-Type": "text/html; charset=utf-8" }, body: "<!doctype html>\n" },
      request: { headers: { "Content-Type": "application/json" }, payload: { order_note: { note: "Success" } } },
      created_at: "2023-03-01T02:02:00+01:00",
      exception_type: "requests.exceptions.SSLError",
      exception: "An SSL error occurred",
    };

    it("POST …/{id}/logs stores what shipping software reports, and both GETs list it", async () => {
      const { id, call } = await shop();
      const res = await call("POST", `/api/v3/integrations/${id}/logs`, example);
      assert.equal(res.statusCode, 201, res.body);
      const { data } = res.json();
      assert.deepEqual(Object.keys(data).sort(), [...LOG_FIELDS].sort());
      assert.equal(data.integration_id, id);
      assert.ok(Number.isInteger(data.id) && data.id >= 1);
      for (const f of ["base_url", "full_url", "method", "response_code", "response", "request", "exception_type", "exception"] as const) assert.deepEqual(data[f], example[f], f);
      assert.equal(new Date(data.created_at).getTime(), new Date(example.created_at).getTime());
      assert.equal(data.protected, false);
      assert.equal(data.additional_data, "");

      const one = await call("GET", `/api/v3/integrations/${id}/logs`);
      assert.equal(one.statusCode, 200, one.body);
      assert.deepEqual(one.json().data, [data]);
      assert.equal(one.headers.link, undefined, "one page: no next link");
      const all = await call("GET", "/api/v3/integrations/logs");
      assert.deepEqual(all.json().data, [data]);
    });

    it("only base_url is required; method defaults to '' and created_at to now", async () => {
      const { id, call } = await shop();
      const res = await call("POST", `/api/v3/integrations/${id}/logs`, { base_url: "https://shop.example" });
      assert.equal(res.statusCode, 201, res.body);
      const { data } = res.json();
      assert.equal(data.method, "");
      assert.equal(data.full_url, null);
      assert.equal(data.response, null);
      assert.equal(data.request, null);
      assert.ok(Math.abs(Date.parse(data.created_at) - t.clock.now().getTime()) < 1000, "created_at is now");
    });

    it("the cursor pages newest first through the Link header, every entry exactly once, ties never split", async () => {
      const { id, call } = await shop();
      // 7 entries: two pairs share an instant.
      const instants = ["2024-01-01T00:00:07Z", "2024-01-01T00:00:06Z", "2024-01-01T00:00:05Z", "2024-01-01T00:00:05Z", "2024-01-01T00:00:03Z", "2024-01-01T00:00:02Z", "2024-01-01T00:00:02Z"];
      for (const [i, created_at] of instants.entries()) {
        assert.equal((await call("POST", `/api/v3/integrations/${id}/logs`, { base_url: `https://shop.example/${i}`, created_at })).statusCode, 201);
      }
      const seen: string[] = [];
      let url: string | null = `/api/v3/integrations/${id}/logs?page_size=3`;
      const pages: number[] = [];
      while (url) {
        const res = await call("GET", url);
        assert.equal(res.statusCode, 200, res.body);
        const data = res.json().data as { base_url: string; created_at: string }[];
        pages.push(data.length);
        seen.push(...data.map((d) => d.base_url));
        const times = data.map((d) => new Date(d.created_at).getTime());
        assert.deepEqual(times, [...times].sort((a, b) => b - a), "newest first");
        const link = res.headers.link as string | undefined;
        if (!link) break;
        const m = /^<([^>]+)>; rel="next"$/.exec(link);
        assert.ok(m, link);
        const next = new URL(m[1]!);
        assert.equal(next.pathname, `/api/v3/integrations/${id}/logs`);
        assert.equal(next.searchParams.get("page_size"), "3");
        assert.ok(!Number.isNaN(Date.parse(next.searchParams.get("cursor")!)));
        url = next.pathname + next.search;
      }
      assert.equal(seen.length, 7);
      assert.equal(new Set(seen).size, 7, "no entry twice");
      // Page 1 would end inside the 00:00:05 pair: it stops before it.
      assert.deepEqual(pages, [2, 3, 2]);
    });

    it("page_size is 1–100 (default 25); cursor is a date-time; both answer 400 with source.parameter", async () => {
      const { id, call } = await shop();
      for (let i = 0; i < 26; i++) await call("POST", `/api/v3/integrations/${id}/logs`, { base_url: "https://shop.example" });
      const page = await call("GET", `/api/v3/integrations/${id}/logs`);
      assert.equal(page.json().data.length, 25);
      assert.match(String(page.headers.link), /page_size=25>; rel="next"$/);
      for (const [q, code] of [["page_size=0", "min_value"], ["page_size=101", "invalid"], ["page_size=x", "invalid"], ["cursor=yesterday", "invalid"]] as const) {
        const res = await call("GET", `/api/v3/integrations/${id}/logs?${q}`);
        const [e] = jsonApiErrors(res.json(), 400);
        assert.equal(e!.code, code, q);
        assert.deepEqual(e!.source, { parameter: q.split("=")[0] }, q);
      }
    });

    it("POST refuses fields the spec does not define (extra_forbidden, body/<field>), a missing base_url (required)", async () => {
      const { id, call } = await shop();
      const extra = await call("POST", `/api/v3/integrations/${id}/logs`, { base_url: "https://example.com", unknown_field: 1 });
      const [e] = jsonApiErrors(extra.json(), 400);
      assert.deepEqual({ code: e!.code, title: e!.title, detail: e!.detail, source: e!.source }, {
        code: "extra_forbidden", title: "Extra Forbidden", detail: "Extra inputs are not permitted", source: { pointer: "body/unknown_field" },
      });
      const missing = await call("POST", `/api/v3/integrations/${id}/logs`, { method: "GET" });
      const [m] = jsonApiErrors(missing.json(), 400);
      assert.equal(m!.code, "required");
      assert.deepEqual(m!.source, { pointer: "body/base_url" });
      const negative = await call("POST", `/api/v3/integrations/${id}/logs`, { base_url: "https://example.com", response_code: -1 });
      assert.equal(jsonApiErrors(negative.json(), 400)[0]!.code, "min_value");
      assert.equal((await call("GET", `/api/v3/integrations/${id}/logs`)).json().data.length, 0, "nothing half-written");
    });

    it("an unknown, another entity's or a disconnected integration answers 404; a test key sees sandbox integrations' logs only", async () => {
      const { tenant, id, call, v1 } = await shop();
      const other = await shop();
      await other.call("POST", `/api/v3/integrations/${other.id}/logs`, { base_url: "https://other.example" });
      for (const [method, path] of [["GET", `/api/v3/integrations/${other.id}/logs`], ["POST", `/api/v3/integrations/${other.id}/logs`], ["GET", "/api/v3/integrations/999999/logs"]] as const) {
        const res = await call(method, path, method === "POST" ? { base_url: "https://x.example" } : undefined);
        assert.equal(jsonApiErrors(res.json(), 404)[0]!.code, "not_found");
      }
      assert.deepEqual((await call("GET", "/api/v3/integrations/logs")).json().data, [], "another entity's entries are not listed");

      await call("POST", `/api/v3/integrations/${id}/logs`, { base_url: "https://live.example" });
      const testKey = await addKey(t, tenant.entityId, { mode: "test" });
      const asTest = asBasic(t, testKey);
      assert.deepEqual((await asTest("GET", "/api/v3/integrations/logs")).json().data, [], "a test key does not see a live integration's log");

      assert.equal((await v1("DELETE", "/v1/integrations/amazon")).statusCode, 200);
      assert.equal((await call("GET", `/api/v3/integrations/${id}/logs`)).statusCode, 404);
      assert.deepEqual((await call("GET", "/api/v3/integrations/logs")).json().data, []);
    });

    it("a shop connector's failed provider call is an entry: request and response as the spec's fields, secrets redacted, protected", async () => {
      const { id, call, v1 } = await shop();
      const put = await v1("PUT", "/v1/integrations/amazon/credentials", { lwa_client_id: "amzn1.application-oa2-client.x", lwa_client_secret: CLIENT_SECRET, refresh_token: REFRESH_TOKEN });
      assert.equal(put.statusCode, 200, put.body);
      const verify = await v1("POST", "/v1/integrations/amazon/verify");
      assert.equal(verify.statusCode, 200, verify.body);
      await t.services.callLog.flush();

      const res = await call("GET", `/api/v3/integrations/${id}/logs`);
      assert.equal(res.statusCode, 200, res.body);
      const [entry, ...rest] = res.json().data;
      assert.equal(rest.length, 0, res.body);
      assert.equal(entry.integration_id, id);
      assert.equal(entry.base_url, lwa.url);
      assert.equal(entry.full_url, `${lwa.url}/auth/o2/token`);
      assert.equal(entry.method, "POST");
      assert.equal(entry.response_code, 400);
      assert.equal(entry.protected, true);
      assert.equal(entry.exception_type, "patchbay.provider.http_error");
      assert.match(entry.exception, /amazon API answered 400 to a credential check/);
      assert.equal(entry.request.payload, null, "the request payload is never kept");
      assert.equal(entry.request.headers["content-type"], "application/x-www-form-urlencoded");
      assert.equal(entry.response.headers["x-amzn-requestid"], "amzn-req-1");
      assert.equal(entry.response.headers["set-cookie"], "[redacted]");
      const body = JSON.parse(entry.response.body);
      assert.equal(body.error, "invalid_grant");
      assert.equal(body.access_token, "[redacted]");
      assert.match(body.error_description, /The refresh token \[redacted\] is revoked/);
      assert.equal(entry.additional_data.purpose, "verify");

      const everything = JSON.stringify(res.json()) + JSON.stringify(await t.database.db.selectFrom("integration_logs").selectAll().execute());
      for (const secret of [REFRESH_TOKEN, CLIENT_SECRET, "planted-cookie-value-xyz", "planted-access-token-zzz"]) assert.ok(!everything.includes(secret), `${secret} leaked`);
    });

    it("entries past the provider-call log's retention are purged with it", async () => {
      const { id, call } = await shop();
      const old = new Date(t.clock.now().getTime() - (t.config.providerLogRetentionDays + 1) * 86_400_000).toISOString();
      await call("POST", `/api/v3/integrations/${id}/logs`, { base_url: "https://old.example", created_at: old });
      await call("POST", `/api/v3/integrations/${id}/logs`, { base_url: "https://new.example" });
      await t.services.integrationLogs.purgeOlderThan(t.config.providerLogRetentionDays * 86_400_000);
      assert.deepEqual((await call("GET", `/api/v3/integrations/${id}/logs`)).json().data.map((d: { base_url: string }) => d.base_url), ["https://new.example"]);
    });

    it("a non-shop connector's failed calls are not shop integration logs", async () => {
      const tenant = await createTenant(t);
      const v1 = asKey(t, tenant);
      await v1("POST", "/v1/integrations/stripe", { mode: "live" });
      await v1("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_live_unreachable" });
      await v1("POST", "/v1/integrations/stripe/verify");
      await t.services.callLog.flush();
      const calls = await t.database.db.selectFrom("provider_calls").selectAll().where("entity_id", "=", tenant.entityId).execute();
      assert.ok(calls.some((c) => c.status === 404), "the failed call was made and logged as a provider call");
      const rows = await t.database.db.selectFrom("integration_logs").selectAll().where("entity_id", "=", tenant.entityId).execute();
      assert.equal(rows.length, 0);
    });
  });
}
