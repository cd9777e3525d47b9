import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CARRIER_CODES } from "../src/services/shop-integrations.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { addKey, asKey, createTenant, type Tenant } from "./helpers/fixtures.ts";
import { runSecurityBattery } from "./helpers/security-battery.ts";
import { asBasic, bareErrors, basicHeader, basicSurface, connectShop, jsonApiErrors } from "./helpers/shop-integrations.ts";

// What the shop-integrations surface refuses, and how: auth, every PATCH rule, bad input, the security battery.

/** Seed 004's error object, to the letter. */
const SEED_WEBHOOK_ERROR = {
  errors: [{ status: "400", code: "invalid", title: "Invalid", detail: "Webhook URL required when enable webhook is set to true" }],
};

for (const kind of DB_KINDS) {
  describe(`[${kind}] /api/v3/integrations rules`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(async () => t.close());

    /** A tenant with one amazon integration, and a Basic-auth caller. */
    const oneShop = async (body: Record<string, unknown> = {}) => {
      const tenant = await createTenant(t);
      const id = await connectShop(t, tenant, "amazon", body);
      return { tenant, id, call: asBasic(t, tenant), v1: asKey(t, tenant) };
    };
    const pointers = (body: unknown, status = 400) => jsonApiErrors(body, status).map((e) => e.source?.pointer ?? e.source?.parameter ?? null);

    describe("HTTP Basic: user = the key's public_key, password = the key", () => {
      it("no credentials → 401 authentication_failed, not provided, with WWW-Authenticate: Basic", async () => {
        await oneShop();
        const res = await t.request({ method: "GET", url: "/api/v3/integrations" });
        assert.equal(res.statusCode, 401);
        assert.match(String(res.headers["www-authenticate"]), /^Basic realm=/);
        assert.deepEqual(bareErrors(res), {
          errors: [{ status: "401", code: "authentication_failed", title: "No credentials", detail: "Authentication credentials were not provided.", source: { header: "Authorization" } }],
        });
        // A bearer is the spec's other scheme (OAuth2 client credentials): one that is not a live access token is refused as such.
        const bearer = await t.request({ method: "GET", url: "/api/v3/integrations", headers: { authorization: "Bearer ark_live_ent_x" } });
        assert.equal(bearer.statusCode, 401);
        assert.deepEqual(bareErrors(bearer), {
          errors: [{ status: "401", code: "authentication_failed", title: "Authentication failed", detail: "Invalid token.", source: { header: "Authorization" } }],
        });
      });

      it("wrong credentials → 401 authentication_failed, the spec's InvalidCredentials example", async () => {
        const { tenant } = await oneShop();
        const other = await createTenant(t);
        const cases = [
          basicHeader(tenant.publicKey, `${tenant.key.slice(0, -1)}${tenant.key.endsWith("X") ? "Y" : "X"}`), // wrong password (always differs)
          basicHeader("pk_live_unknown", tenant.key), // unknown user
          basicHeader(other.publicKey, tenant.key), // another key's public key
          basicHeader(tenant.key, tenant.publicKey), // swapped
          "Basic !!!not-base64!!!",
          `Basic ${Buffer.from("no-colon").toString("base64")}`,
          "Basic",
        ];
        for (const authorization of cases) {
          const res = await t.request({ method: "GET", url: "/api/v3/integrations", headers: { authorization } });
          assert.equal(res.statusCode, 401, authorization);
          assert.match(String(res.headers["www-authenticate"]), /^Basic realm=/);
          assert.deepEqual(bareErrors(res), {
            errors: [{ status: "401", code: "authentication_failed", title: "Invalid username/password.", detail: "The username or password provided is incorrect. Please make a request with the valid credentials.", source: { header: "Authorization" } }],
          });
        }
      });

      it("the right pair → 200; neither the key nor the header is ever logged", async () => {
        const { tenant, call } = await oneShop();
        const res = await call("GET", "/api/v3/integrations");
        assert.equal(res.statusCode, 200, res.body);
        const header = basicHeader(tenant.publicKey, tenant.key).slice(6);
        for (const line of t.logs) {
          assert.ok(!line.includes(tenant.key), "key in a log line");
          assert.ok(!line.includes(header), "Basic credentials in a log line");
        }
      });
    });

    describe("webhook_url is required when webhook_active is true, on the merged record", () => {
      it("webhook_active:true without a URL → 400, exactly seed 004's error object", async () => {
        const { id, call } = await oneShop();
        const res = await call("PATCH", `/api/v3/integrations/${id}`, { webhook_active: true });
        assert.equal(res.statusCode, 400);
        assert.deepEqual(bareErrors(res), SEED_WEBHOOK_ERROR);
        assert.equal((await call("GET", `/api/v3/integrations/${id}`)).json().data.webhook_active, false, "nothing written");
      });

      it("webhook_active:true on a record that already has a URL is fine", async () => {
        const { id, call } = await oneShop();
        assert.equal((await call("PATCH", `/api/v3/integrations/${id}`, { webhook_url: "https://erp.example.com/hook" })).statusCode, 204);
        assert.equal((await call("PATCH", `/api/v3/integrations/${id}`, { webhook_active: true })).statusCode, 204);
        assert.equal((await call("GET", `/api/v3/integrations/${id}`)).json().data.webhook_active, true);
      });

      it("clearing the URL of an active webhook → 400, the same error", async () => {
        const { id, call } = await oneShop();
        await call("PATCH", `/api/v3/integrations/${id}`, { webhook_active: true, webhook_url: "https://erp.example.com/hook" });
        const res = await call("PATCH", `/api/v3/integrations/${id}`, { webhook_url: null });
        assert.equal(res.statusCode, 400);
        assert.deepEqual(bareErrors(res), SEED_WEBHOOK_ERROR);
      });

      it("two concurrent PATCHes cannot together break the rule", async () => {
        const { id, call } = await oneShop();
        for (let round = 0; round < 5; round++) {
          await call("PATCH", `/api/v3/integrations/${id}`, { webhook_active: false, webhook_url: "https://erp.example.com/hook" });
          const [activate, clear] = await Promise.all([
            call("PATCH", `/api/v3/integrations/${id}`, { webhook_active: true }),
            call("PATCH", `/api/v3/integrations/${id}`, { webhook_url: null }),
          ]);
          const statuses = [activate.statusCode, clear.statusCode].sort();
          assert.deepEqual(statuses, [204, 400], `round ${round}: ${activate.body} ${clear.body}`);
          const data = (await call("GET", `/api/v3/integrations/${id}`)).json().data;
          assert.ok(!data.webhook_active || data.webhook_url !== null, "active webhook without a URL");
        }
      });
    });

    describe("service_point_enabled:true needs at least one carrier, on the merged record", () => {
      it("enabling without carriers → 400 invalid at /service_point_carriers", async () => {
        const { id, call } = await oneShop();
        const res = await call("PATCH", `/api/v3/integrations/${id}`, { service_point_enabled: true });
        assert.equal(res.statusCode, 400);
        const [e] = jsonApiErrors(res.json(), 400);
        assert.equal(e!.code, "invalid");
        assert.deepEqual(e!.source, { pointer: "/service_point_carriers" });
        assert.match(e!.detail, /carrier/);
      });

      it("enabling with carriers, or on a record that has them, is fine; emptying them while enabled is not", async () => {
        const { id, call } = await oneShop();
        assert.equal((await call("PATCH", `/api/v3/integrations/${id}`, { service_point_carriers: ["dpd"] })).statusCode, 204);
        assert.equal((await call("PATCH", `/api/v3/integrations/${id}`, { service_point_enabled: true })).statusCode, 204);
        const res = await call("PATCH", `/api/v3/integrations/${id}`, { service_point_carriers: [] });
        assert.equal(res.statusCode, 400);
        assert.deepEqual(pointers(res.json()), ["/service_point_carriers"]);
        assert.equal((await call("PATCH", `/api/v3/integrations/${id}`, { service_point_enabled: false, service_point_carriers: [] })).statusCode, 204);
      });
    });

    describe("field rules: shop_name 1–250, URIs, booleans, known carriers, feedback_type eager|delayed|none", () => {
      it("each bad value → 400 invalid with source.pointer at the field; nothing written", async () => {
        const { id, call } = await oneShop();
        const cases: [Record<string, unknown>, string, string][] = [
          [{ shop_name: "" }, "/shop_name", "invalid"],
          [{ shop_name: "x".repeat(251) }, "/shop_name", "invalid"],
          [{ shop_name: 7 }, "/shop_name", "invalid"],
          [{ shop_name: null }, "/shop_name", "null"],
          [{ shop_url: "not a url" }, "/shop_url", "invalid"],
          [{ shop_url: "ftp://shop.example.com" }, "/shop_url", "invalid"],
          [{ shop_url: "" }, "/shop_url", "invalid"],
          [{ shop_url: null }, "/shop_url", "null"],
          [{ shop_url: `https://example.com/${"x".repeat(2048)}` }, "/shop_url", "invalid"],
          [{ webhook_url: "javascript:alert(1)" }, "/webhook_url", "invalid"],
          [{ webhook_url: "" }, "/webhook_url", "invalid"],
          [{ webhook_url: 5 }, "/webhook_url", "invalid"],
          [{ service_point_enabled: "true" }, "/service_point_enabled", "invalid"],
          [{ webhook_active: 1 }, "/webhook_active", "invalid"],
          [{ service_point_carriers: "ups" }, "/service_point_carriers", "not_a_list"],
          [{ service_point_carriers: ["ups", "pigeon"] }, "/service_point_carriers/1", "invalid_choice"],
          [{ service_point_carriers: ["UPS"] }, "/service_point_carriers/0", "invalid_choice"],
          [{ service_point_carriers: ["ups", "ups"] }, "/service_point_carriers", "invalid"],
          [{ service_point_carriers: [null] }, "/service_point_carriers/0", "null"],
          [{ feedback_type: "later" }, "/feedback_type", "invalid_choice"],
          [{ feedback_type: "" }, "/feedback_type", "invalid_choice"],
        ];
        // The spec's codes: null where null is not allowed, not_a_list, invalid_choice outside an enum, invalid otherwise.
        const titles: Record<string, string> = { invalid: "Invalid", null: "Null", not_a_list: "Not a list", invalid_choice: "Invalid choice" };
        for (const [body, pointer, code] of cases) {
          const res = await call("PATCH", `/api/v3/integrations/${id}`, body);
          assert.equal(res.statusCode, 400, `${JSON.stringify(body).slice(0, 80)}: ${res.body}`);
          const errors = jsonApiErrors(res.json(), 400);
          assert.deepEqual(errors.map((e) => e.source?.pointer), [pointer], JSON.stringify(body).slice(0, 80));
          assert.equal(errors[0]!.code, code, JSON.stringify(body).slice(0, 80));
          assert.equal(errors[0]!.title, titles[code]);
          if (code === "invalid_choice") assert.ok(Array.isArray(errors[0]!.meta?.choices), "meta.choices");
        }
        const data = (await call("GET", `/api/v3/integrations/${id}`)).json().data;
        assert.equal(data.shop_name, "Amazon Seller Central");
        assert.equal(data.shop_url, null);
      });

      it("boundary values are accepted: 1 and 250 characters, every known carrier", async () => {
        const { id, call } = await oneShop();
        for (const shop_name of ["x", "y".repeat(250)]) assert.equal((await call("PATCH", `/api/v3/integrations/${id}`, { shop_name })).statusCode, 204);
        const res = await call("PATCH", `/api/v3/integrations/${id}`, { service_point_carriers: [...CARRIER_CODES] });
        assert.equal(res.statusCode, 204, res.body);
        assert.deepEqual((await call("GET", `/api/v3/integrations/${id}`)).json().data.service_point_carriers, [...CARRIER_CODES]);
      });
    });

    describe("unknown fields → unknown_field", () => {
      it("each unknown or read-only field answers unknown_field with its pointer", async () => {
        const { id, call } = await oneShop();
        for (const field of ["colour", "id", "type", "created_at", "started_failing_at", "last_fetched_at", "display_name", "seller_id"]) {
          const res = await call("PATCH", `/api/v3/integrations/${id}`, { shop_name: "ok", [field]: "x" });
          assert.equal(res.statusCode, 400, `${field}: ${res.body}`);
          assert.deepEqual(bareErrors(res).errors, [
            { status: "400", code: "unknown_field", title: "Unknown field", detail: `"${field}" is not an accepted field.`, source: { pointer: `/${field}` } },
          ]);
        }
        assert.equal((await call("GET", `/api/v3/integrations/${id}`)).json().data.shop_name, "Amazon Seller Central", "nothing written");
      });
    });

    describe("every violated rule is listed, not only the first", () => {
      it("field, unknown-field and merged-record rules together, one error each", async () => {
        const { id, call } = await oneShop();
        const res = await call("PATCH", `/api/v3/integrations/${id}`, {
          shop_name: "",
          shop_url: "nope",
          service_point_enabled: true,
          webhook_active: true,
          feedback_type: "later",
          colour: "red",
        });
        assert.equal(res.statusCode, 400);
        const errors = jsonApiErrors(res.json(), 400);
        assert.deepEqual(
          errors.map((e) => [e.code, e.source?.pointer ?? null]).sort(),
          [
            ["invalid_choice", "/feedback_type"],
            ["invalid", "/service_point_carriers"],
            ["invalid", "/shop_name"],
            ["invalid", "/shop_url"],
            ["invalid", null],
            ["unknown_field", "/colour"],
          ].sort(),
        );
        assert.ok(errors.some((e) => e.detail === SEED_WEBHOOK_ERROR.errors[0]!.detail && e.source === undefined));
      });

      it("a merged-record rule is not repeated for a field already rejected for its shape", async () => {
        const { id, call } = await oneShop();
        const res = await call("PATCH", `/api/v3/integrations/${id}`, { webhook_active: true, webhook_url: "not a url" });
        assert.deepEqual(pointers(res.json()), ["/webhook_url"]);
        assert.match(jsonApiErrors(res.json(), 400)[0]!.detail, /http\(s\) URL/);
      });
    });

    describe("bad input is a JSON:API 4xx, never a 500", () => {
      it("malformed JSON → 400, a non-JSON content type → 415, an oversize body → 413", async () => {
        const { id, call } = await oneShop();
        const url = `/api/v3/integrations/${id}`;
        const bad = await call("PATCH", url, '{"shop_name": ', { "content-type": "application/json" });
        assert.equal(bad.statusCode, 400);
        assert.equal(jsonApiErrors(bad.json(), 400)[0]!.code, "non_field_errors");
        const form = await call("PATCH", url, "shop_name=x", { "content-type": "application/x-www-form-urlencoded" });
        assert.equal(form.statusCode, 415);
        assert.equal(jsonApiErrors(form.json(), 415)[0]!.code, "unsupported_media_type");
        const big = await call("PATCH", url, { shop_name: "x".repeat(2 * 1024 * 1024) });
        assert.equal(big.statusCode, 413);
        assert.equal(jsonApiErrors(big.json(), 413)[0]!.code, "body_too_large");
      });

      it("a body that is not an object, or no body → 400 invalid at the document root", async () => {
        const { id, call } = await oneShop();
        for (const payload of ["[1,2]", '"shop"', "null", "42", undefined]) {
          const res = await call("PATCH", `/api/v3/integrations/${id}`, payload, payload === undefined ? {} : { "content-type": "application/json" });
          assert.equal(res.statusCode, 400, `${payload}: ${res.body}`);
          assert.deepEqual(jsonApiErrors(res.json(), 400)[0]!.source, { pointer: "" });
        }
      });

      it("an unknown route under /api/v3 → 404, a method its path does not take → 405 with Allow, both in the JSON:API shape", async () => {
        const { call } = await oneShop();
        const unknown = await call("GET", "/api/v3/nothing");
        assert.equal(unknown.statusCode, 404, unknown.body);
        assert.equal(jsonApiErrors(unknown.json(), 404)[0]!.code, "not_found");
        for (const [method, url] of [["POST", "/api/v3/integrations"], ["PUT", "/api/v3/integrations/1"]] as const) {
          const res = await call(method, url, {});
          assert.equal(res.statusCode, 405, `${method} ${url}: ${res.body}`);
          assert.equal(jsonApiErrors(res.json(), 405).length, 1);
          assert.match(String(res.headers.allow), /GET/);
        }
      });
    });

    describe("security battery", () => {
      const shopOf = (mode: "sandbox" | "live") => async (tt: TestApp, owner: Tenant) => ({ id: String(await connectShop(tt, owner, "amazon", { mode })) });
      const routes = [
        { method: "GET" as const, scope: "integrations:read" as const, url: () => "/api/v3/integrations" },
        { method: "GET" as const, scope: "integrations:read" as const, url: (c: Record<string, string>) => `/api/v3/integrations/${c.id}`, setup: shopOf("sandbox"), setupLive: shopOf("live") },
        { method: "PATCH" as const, scope: "integrations:write" as const, url: (c: Record<string, string>) => `/api/v3/integrations/${c.id}`, payload: { shop_name: "x" }, setup: shopOf("sandbox"), setupLive: shopOf("live") },
        { method: "DELETE" as const, scope: "integrations:write" as const, url: (c: Record<string, string>) => `/api/v3/integrations/${c.id}`, setup: shopOf("sandbox"), setupLive: shopOf("live") },
        { method: "GET" as const, scope: "integrations:read" as const, url: () => "/api/v3/integrations/logs" },
        { method: "GET" as const, scope: "integrations:read" as const, url: (c: Record<string, string>) => `/api/v3/integrations/${c.id}/logs`, setup: shopOf("sandbox"), setupLive: shopOf("live") },
        { method: "POST" as const, scope: "integrations:write" as const, url: (c: Record<string, string>) => `/api/v3/integrations/${c.id}/logs`, payload: { base_url: "https://shop.example" }, setup: shopOf("sandbox"), setupLive: shopOf("live") },
      ];
      for (const r of routes) runSecurityBattery(`${r.method} ${r.url({ id: "{id}" })}`, () => t, { ...r, surface: basicSurface });

      it("a test key may change a sandbox integration but not a live one (nothing written)", async () => {
        const tenant = await createTenant(t);
        const live = await connectShop(t, tenant, "amazon", { mode: "live" });
        const sandbox = await connectShop(t, tenant, "ebay", { mode: "sandbox" });
        const testCall = asBasic(t, await addKey(t, tenant.entityId, { mode: "test" }));
        assert.equal((await testCall("PATCH", `/api/v3/integrations/${sandbox}`, { shop_name: "ok" })).statusCode, 204);
        const res = await testCall("PATCH", `/api/v3/integrations/${live}`, { shop_name: "nope" });
        assert.equal(res.statusCode, 403);
        assert.equal(jsonApiErrors(res.json(), 403)[0]!.code, "live_mode_forbidden");
        assert.equal((await asBasic(t, tenant)("GET", `/api/v3/integrations/${live}`)).json().data.shop_name, "Amazon Seller Central");
      });
    });
  });
}
