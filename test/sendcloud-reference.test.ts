import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { createTenant } from "./helpers/fixtures.ts";
import { asBasic, connectShop } from "./helpers/shop-integrations.ts";

/**
 * Every request/response example of the Sendcloud v3 integrations spec
 * (api-evangelist/sendcloud, openapi/_original/sendcloud-v3-integrations-openapi.yml),
 * replayed against Patchbay and checked field by field. The examples' values
 * are the spec's; ids and instants, which Patchbay assigns, are compared by
 * type (ids) or as instants. Where the spec's examples disagree with its
 * schema — `status` is a number in some examples and a string in others,
 * while ErrorObject says `type: string` — Patchbay follows the schema, and
 * the status is compared as a string.
 */

type Json = Record<string, unknown>;

// components.responses.Unauthorized
const UNAUTHORIZED = {
  InvalidCredentials: { status: "401", code: "authentication_failed", title: "Invalid username/password.", detail: "The username or password provided is incorrect. Please make a request with the valid credentials." },
  AuthenticationRequired: { status: "401", code: "authentication_failed", title: "No credentials", detail: "Authentication credentials were not provided." },
};
// The 404 example of every /integrations/{id}… operation (OrderDoesNotExist, IntegrationDoesNotExist).
const NOT_FOUND = { status: 404, code: "not_found", title: "Not Found", detail: "The Integration could not be found with the search criteria given" };
// PATCH 400 WebhookDoesNotExist
const WEBHOOK_MISSING = { status: "400", code: "invalid", title: "Invalid", detail: "Webhook URL required when enable webhook is set to true" };
// POST …/logs 400 ExtraFieldsNotPermitted
const EXTRA_FORBIDDEN = { status: 400, code: "extra_forbidden", title: "Extra Forbidden", detail: "Extra inputs are not permitted", source: { pointer: "body/unknown_field" } };

// GET /integrations/{id} 200 Response (and each item of GET /integrations)
const INTEGRATION_EXAMPLE: Json = {
  id: 23452345,
  shop_name: "Integration #1",
  shop_url: "https://www.my-shop-integration.com/",
  type: "api",
  started_failing_at: "2023-11-10T16:16:42Z",
  last_fetched_at: "2023-11-10T16:15:09Z",
  created_at: "2023-11-04T14:15:22Z",
  updated_at: "2023-11-08T12:23:56Z",
  service_point_enabled: true,
  service_point_carriers: ["ups", "dhl"],
  webhook_active: true,
  webhook_url: "https://my-shop-integration.integrator/api/webhooks/sendcloud",
  feedback_type: "eager",
};

// PATCH requestBody examples
const PATCH_EXAMPLES: Record<string, Json> = {
  UpdatingShopName: { shop_name: "My Webshop" },
  EnableServicePointsIntegration: { service_point_enabled: true, service_point_carriers: ["ups", "dhl"] },
  EnableWebhooksForAnIntegration: { webhook_active: true, webhook_url: "https://mywebshop.com/feedback" },
  UpdateFeedbackType: { feedback_type: "none" },
};

const SSL_RESPONSE = {
  headers: { "Cache-Control": "max-age=3600", "Content-Type": "text/html; charset=utf-8", Connection: "keep-alive" },
  body: "<!doctype html>\n<html>\n <head>\n <title>SSL Certificate Error</title>\n </head>\n </html>\n",
};
const SSL_REQUEST = {
  headers: { "Cache-Control": "max-age=3600", "Content-Type": "text/html; charset=utf-8", Connection: "keep-alive" },
  payload: { order_note: { note: "Success" } },
};
// POST …/logs requestBody CreateIntegrationLog
const CREATE_LOG: Json = {
  base_url: "https://example.com",
  full_url: "https://example.com/order-note.json",
  method: "POST",
  response_code: 495,
  response: SSL_RESPONSE,
  request: SSL_REQUEST,
  created_at: "2023-03-01T02:02:00+01:00",
  exception_type: "requests.exceptions.SSLError",
  exception: "An SSL error occurred",
};
// POST …/logs 201 CreateIntegrationLog (data); the GET examples' items are the same without integration_id.
const CREATED_LOG: Json = { id: 123, integration_id: 123, ...CREATE_LOG, protected: false, additional_data: "" };
const LISTED_LOG: Json = Object.fromEntries(Object.entries(CREATED_LOG).filter(([k]) => k !== "integration_id"));

/** An answer's value against the example's, by the field's kind: ids by type, instants as instants, the rest equal. */
function assertLike(actual: Json, example: Json, where: string, exact: readonly string[] = []) {
  for (const [field, want] of Object.entries(example)) {
    assert.ok(field in actual, `${where}: no ${field}`);
    const got = actual[field];
    if (field === "id" || field === "integration_id") assert.ok(Number.isInteger(got) && (got as number) >= 1, `${where}: ${field}`);
    else if (field === "status") assert.equal(got, String(want), `${where}: status (a string, as the schema types it)`);
    else if (/_at$/.test(field) && typeof want === "string" && !exact.includes(field)) assert.ok(got === null || !Number.isNaN(Date.parse(String(got))), `${where}: ${field} is a date-time`);
    else if (exact.includes(field) && /_at$/.test(field)) assert.equal(Date.parse(String(got)), Date.parse(String(want)), `${where}: ${field}`);
    else if (!exact.length || exact.includes(field)) assert.deepEqual(got, want, `${where}: ${field}`);
  }
}

const bare = (e: Json) => Object.fromEntries(Object.entries(e).filter(([k]) => k !== "id" && k !== "links"));

for (const kind of DB_KINDS) {
  describe(`[${kind}] the Sendcloud v3 integrations spec's examples, replayed`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(async () => t.close());

    const shop = async () => {
      const tenant = await createTenant(t);
      const id = await connectShop(t, tenant, "amazon", { mode: "live" });
      return { tenant, id, call: asBasic(t, tenant) };
    };

    it("GET /integrations/{id} and GET /integrations: the Response example's fields, each of its type; type is the shop system", async () => {
      const { id, call } = await shop();
      for (const [name, body] of Object.entries(PATCH_EXAMPLES)) assert.equal((await call("PATCH", `/api/v3/integrations/${id}`, body)).statusCode, 204, name);
      assert.equal((await call("PATCH", `/api/v3/integrations/${id}`, { shop_url: INTEGRATION_EXAMPLE.shop_url })).statusCode, 204);
      const one = await call("GET", `/api/v3/integrations/${id}`);
      assert.equal(one.statusCode, 200);
      const data = one.json().data as Json;
      assert.deepEqual(Object.keys(data).sort(), Object.keys(INTEGRATION_EXAMPLE).sort());
      for (const [field, want] of Object.entries(INTEGRATION_EXAMPLE)) {
        const got = data[field];
        if (want === null || typeof want !== "string" || !/_at$/.test(field)) assert.equal(typeof got === "object" && got !== null ? "object" : typeof got, typeof want === "object" ? "object" : typeof want, field);
      }
      const list = await call("GET", "/api/v3/integrations?sort=updated_at");
      assert.equal(list.statusCode, 200);
      assert.deepEqual(list.json().data, [data]);
    });

    it("PATCH: each requestBody example → 204 No content, and the record shows it", async () => {
      const { id, call } = await shop();
      for (const [name, body] of Object.entries(PATCH_EXAMPLES)) {
        const res = await call("PATCH", `/api/v3/integrations/${id}`, body);
        assert.equal(res.statusCode, 204, `${name}: ${res.body}`);
        assert.equal(res.body, "");
        const data = (await call("GET", `/api/v3/integrations/${id}`)).json().data;
        for (const [field, value] of Object.entries(body)) assert.deepEqual(data[field], value, `${name}: ${field}`);
      }
    });

    it("PATCH 400 WebhookDoesNotExist, field by field", async () => {
      const { id, call } = await shop();
      const res = await call("PATCH", `/api/v3/integrations/${id}`, { webhook_active: true });
      assert.equal(res.statusCode, 400);
      const errors = res.json().errors as Json[];
      assert.equal(errors.length, 1);
      assert.deepEqual(bare(errors[0]!), WEBHOOK_MISSING);
    });

    it("404 IntegrationDoesNotExist / OrderDoesNotExist on GET, PATCH, DELETE and both …/logs operations", async () => {
      const { call } = await shop();
      const cases = [["GET", ""], ["PATCH", ""], ["DELETE", ""], ["GET", "/logs"], ["POST", "/logs"]] as const;
      for (const [method, tail] of cases) {
        const body = method === "PATCH" ? PATCH_EXAMPLES.UpdatingShopName : method === "POST" ? CREATE_LOG : undefined;
        const res = await call(method, `/api/v3/integrations/23452345${tail}`, body);
        assert.equal(res.statusCode, 404, `${method} ${tail}`);
        const [e] = res.json().errors as Json[];
        assertLike(bare(e!), NOT_FOUND, `${method} …${tail}`, ["code", "title", "detail"]);
        assert.deepEqual(Object.keys(bare(e!)).sort(), Object.keys(NOT_FOUND).sort());
      }
    });

    it("DELETE → 204 No content", async () => {
      const { id, call } = await shop();
      const res = await call("DELETE", `/api/v3/integrations/${id}`);
      assert.equal(res.statusCode, 204);
      assert.equal(res.body, "");
    });

    it("POST …/logs CreateIntegrationLog → 201 with the example's data, field by field; the GETs list it as RetrieveIntegrationLogs", async () => {
      const { id, call } = await shop();
      const res = await call("POST", `/api/v3/integrations/${id}/logs`, CREATE_LOG);
      assert.equal(res.statusCode, 201, res.body);
      const data = res.json().data as Json;
      assert.deepEqual(Object.keys(data).sort(), Object.keys(CREATED_LOG).sort());
      const fields = Object.keys(CREATED_LOG).filter((f) => f !== "id" && f !== "integration_id");
      assertLike(data, CREATED_LOG, "201", fields);
      assert.equal(data.integration_id, id);

      for (const url of ["/api/v3/integrations/logs", `/api/v3/integrations/${id}/logs`, `/api/v3/integrations/${id}/logs?cursor=${encodeURIComponent("2023-03-01T02:02:01+01:00")}&page_size=25`]) {
        const list = await call("GET", url);
        assert.equal(list.statusCode, 200, url);
        const [item] = list.json().data as Json[];
        assertLike(item!, LISTED_LOG, url, fields);
      }
      // The example cursor is at the entry's instant; entries strictly older are listed after it.
      const older = await call("GET", `/api/v3/integrations/${id}/logs?cursor=${encodeURIComponent("2023-03-01T02:02:00+01:00")}`);
      assert.deepEqual(older.json().data, []);
    });

    it("POST …/logs 400 ExtraFieldsNotPermitted, field by field", async () => {
      const { id, call } = await shop();
      const res = await call("POST", `/api/v3/integrations/${id}/logs`, { ...CREATE_LOG, unknown_field: "x" });
      assert.equal(res.statusCode, 400);
      const errors = res.json().errors as Json[];
      assert.equal(errors.length, 1);
      assertLike(bare(errors[0]!), EXTRA_FORBIDDEN, "400", ["code", "title", "detail", "source"]);
      assert.deepEqual(Object.keys(bare(errors[0]!)).sort(), Object.keys(EXTRA_FORBIDDEN).sort());
    });

    it("401 InvalidCredentials and AuthenticationRequired, field by field", async () => {
      const { tenant } = await shop();
      const wrong = await t.request({ method: "GET", url: "/api/v3/integrations", headers: { authorization: `Basic ${Buffer.from(`${tenant.publicKey}:nope`).toString("base64")}` } });
      assert.equal(wrong.statusCode, 401);
      assertLike(bare(wrong.json().errors[0]), UNAUTHORIZED.InvalidCredentials, "wrong", ["code", "title", "detail"]);
      const none = await t.request({ method: "GET", url: "/api/v3/integrations" });
      assert.equal(none.statusCode, 401);
      assertLike(bare(none.json().errors[0]), UNAUTHORIZED.AuthenticationRequired, "none", ["code", "title", "detail"]);
    });

    it("the shop-order-statuses operations (Prestashop V2 only) are not implemented: a JSON:API 404", async () => {
      const { call } = await shop();
      for (const [method, url] of [["GET", "/api/v3/shop-order-statuses?integration_id=1"], ["POST", "/api/v3/shop-order-statuses"], ["GET", "/api/v3/shop-order-statuses/mapping?integration_id=1"], ["POST", "/api/v3/shop-order-statuses/mapping"]] as const) {
        const res = await call(method, url, method === "POST" ? { integration_id: 1 } : undefined);
        assert.equal(res.statusCode, 404, url);
        assert.equal(res.json().errors[0].status, "404");
      }
    });
  });
}
