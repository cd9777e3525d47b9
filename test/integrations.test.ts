import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CONNECTOR_TYPES } from "../src/catalog/index.ts";
import { FORBIDDEN_CREATE_FIELDS } from "../src/services/connectors.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { addKey, asKey, assertSeedRow, createTenant, SHIP_FROM } from "./helpers/fixtures.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { bearerSurface, runSecurityBattery } from "./helpers/security-battery.ts";

for (const kind of DB_KINDS) {
  describe(`[${kind}] /v1/integrations`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(async () => t.close());

    describe("POST creates a Mode A connector (seed 001)", () => {
      it("answers 201 with the bare row, every seed field present, defaults filled", async () => {
        const call = asKey(t, await createTenant(t));
        const res = await call("POST", "/v1/integrations/stripe", { config: { currency: "usd" } });
        assert.equal(res.statusCode, 201, res.body);
        const row = res.json();
        assert.equal(row.data, undefined, "POST answers the bare row, not {data}");
        assertSeedRow(row);
        assert.equal(row.connector_type, "stripe");
        assert.equal(row.display_name, "Stripe");
        assert.equal(row.mode, "live", "a live key's connector is live unless the body says mode");
        assert.equal(row.is_active, true);
        assert.deepEqual(row.config, { currency: "usd" });
        assert.equal(row.has_credentials_secret_arn, false);
        assert.equal(row.has_webhook_secret, false);
        for (const f of ["last_sync_at", "sync_status", "sync_error", "ship_from_name", "seller_id", "bank_account_id"]) assert.equal(row[f], null, f);
      });

      it("accepts a POST with no body at all", async () => {
        const call = asKey(t, await createTenant(t));
        const res = await call("POST", "/v1/integrations/postmark");
        assert.equal(res.statusCode, 201, res.body);
        assert.deepEqual(res.json().config, {});
      });

      it("keeps the given display_name, mode and row fields", async () => {
        const call = asKey(t, await createTenant(t));
        const res = await call("POST", "/v1/integrations/ups", { display_name: "UPS main", mode: "live", ...SHIP_FROM });
        assert.equal(res.statusCode, 201, res.body);
        assert.equal(res.json().display_name, "UPS main");
        assert.equal(res.json().mode, "live");
        assert.equal(res.json().ship_from_city, "Springfield");
      });

      it("answers 409 conflict when the type is already active", async () => {
        const call = asKey(t, await createTenant(t));
        assert.equal((await call("POST", "/v1/integrations/openai")).statusCode, 201);
        const res = await call("POST", "/v1/integrations/openai");
        assert.equal(res.statusCode, 409);
        assert.equal(res.json().code, "conflict");
        assert.equal(res.json().type, "conflict");
        assert.match(res.json().hint, /PATCH/);
      });

      it("answers 409 for a paused connector too, with a hint to resume it", async () => {
        const call = asKey(t, await createTenant(t));
        await call("POST", "/v1/integrations/openai");
        await call("PATCH", "/v1/integrations/openai", { is_active: false });
        const res = await call("POST", "/v1/integrations/openai");
        assert.equal(res.statusCode, 409);
        assert.match(res.json().hint, /is_active/);
      });

      for (const field of FORBIDDEN_CREATE_FIELDS) {
        it(`refuses "${field}" with 422 forbidden_field and param`, async () => {
          const call = asKey(t, await createTenant(t));
          const res = await call("POST", "/v1/integrations/stripe", { [field]: "sk_live_leak", display_name: "x" });
          assert.equal(res.statusCode, 422, res.body);
          assert.equal(res.json().code, "forbidden_field");
          assert.equal(res.json().param, field);
          assert.ok(!res.body.includes("sk_live_leak"));
          const get = await call("GET", "/v1/integrations/stripe");
          assert.equal(get.statusCode, 404, "nothing was created");
        });
      }

      it("refuses an unknown field with 400 validation_failed naming it", async () => {
        const call = asKey(t, await createTenant(t));
        const res = await call("POST", "/v1/integrations/stripe", { colour: "blue" });
        assert.equal(res.statusCode, 400);
        assert.equal(res.json().code, "validation_failed");
        assert.equal(res.json().param, "colour");
        assert.match(res.json().hint, /colour/);
      });

      it("requires the type's extra fields (carriers: ship_from_*, amazon/ebay: seller_id, plaid: bank_account_id)", async () => {
        const call = asKey(t, await createTenant(t));
        const cases: [string, Record<string, unknown>, string][] = [
          ["fedex", {}, "ship_from_name"],
          ["usps", { ...SHIP_FROM, ship_from_zip: undefined }, "ship_from_zip"],
          ["amazon", {}, "seller_id"],
          ["ebay", {}, "seller_id"],
          ["plaid", {}, "bank_account_id"],
        ];
        for (const [type, body, param] of cases) {
          const res = await call("POST", `/v1/integrations/${type}`, JSON.parse(JSON.stringify(body)));
          assert.equal(res.statusCode, 400, `${type}: ${res.body}`);
          assert.equal(res.json().param, param, type);
        }
        assert.equal((await call("POST", "/v1/integrations/amazon", { seller_id: "A2EUQ1WTGCTBG2" })).statusCode, 201);
        assert.equal((await call("POST", "/v1/integrations/plaid", { bank_account_id: "3c90c3cc-0d44-4b50-8888-8dd25736052a" })).statusCode, 201);
      });

      it("validates config against the catalog schema of the type", async () => {
        const call = asKey(t, await createTenant(t));
        let res = await call("POST", "/v1/integrations/stripe", { config: { currency: "dollars" } });
        assert.equal(res.statusCode, 400);
        assert.equal(res.json().param, "config.currency");
        res = await call("POST", "/v1/integrations/stripe", { config: { colour: "red" } });
        assert.equal(res.statusCode, 400);
        assert.equal(res.json().param, "config.colour");
        assert.match(res.json().hint, /known settings/);
      });

      it("refuses wrong types, a bad uuid and an unknown mode with 400", async () => {
        const call = asKey(t, await createTenant(t));
        for (const body of [{ display_name: 42 }, { mode: "production" }, { config: "x" }, { bank_account_id: "nope" }, [1, 2], "str", null]) {
          const res = await call("POST", "/v1/integrations/plaid", JSON.stringify(body), { "content-type": "application/json" });
          assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
          assert.equal(res.json().code, "validation_failed");
        }
      });

      it("refuses shop on a non-Shopify type", async () => {
        const call = asKey(t, await createTenant(t));
        const res = await call("POST", "/v1/integrations/stripe", { shop: "x.myshopify.com" });
        assert.equal(res.statusCode, 400);
        assert.equal(res.json().param, "shop");
      });
    });

    describe("GET and list", () => {
      it("GET answers {data: row}; an absent type is 404 with a hint", async () => {
        const call = asKey(t, await createTenant(t));
        assert.equal((await call("GET", "/v1/integrations/stripe")).statusCode, 404);
        assert.match((await call("GET", "/v1/integrations/stripe")).json().hint, /POST/);
        await call("POST", "/v1/integrations/stripe");
        const res = await call("GET", "/v1/integrations/stripe");
        assert.equal(res.statusCode, 200);
        assertSeedRow(res.json().data);
      });

      it("an unknown connector type is a clear 400 listing the valid ones, never a 500", async () => {
        const call = asKey(t, await createTenant(t));
        for (const method of ["GET", "POST", "PATCH", "DELETE"] as const) {
          const res = await call(method, "/v1/integrations/myspace", method === "PATCH" ? {} : undefined);
          assert.equal(res.statusCode, 400, `${method}: ${res.body}`);
          assert.equal(res.json().param, "connector_type");
          assert.match(res.json().hint, /stripe, avatax/);
        }
      });

      it("lists newest first with cursor pagination ({object, data, has_more, url})", async () => {
        const call = asKey(t, await createTenant(t));
        const types = ["stripe", "avatax", "postmark", "openai", "google", "mapquest", "printnode"];
        for (const type of types) assert.equal((await call("POST", `/v1/integrations/${type}`)).statusCode, 201);
        const all = await call("GET", "/v1/integrations");
        assert.equal(all.statusCode, 200);
        assert.equal(all.json().object, "list");
        assert.equal(all.json().url, "/v1/integrations");
        assert.equal(all.json().has_more, false);
        assert.deepEqual(all.json().data.map((r: { connector_type: string }) => r.connector_type), [...types].reverse());

        const p1 = (await call("GET", "/v1/integrations?limit=3")).json();
        assert.equal(p1.data.length, 3);
        assert.equal(p1.has_more, true);
        const p2 = (await call("GET", `/v1/integrations?limit=3&starting_after=${p1.data[2].id}`)).json();
        assert.deepEqual(p2.data.map((r: { connector_type: string }) => r.connector_type), ["openai", "postmark", "avatax"]);
        const p3 = (await call("GET", `/v1/integrations?limit=3&starting_after=${p2.data[2].id}`)).json();
        assert.deepEqual(p3.data.map((r: { connector_type: string }) => r.connector_type), ["stripe"]);
        assert.equal(p3.has_more, false);
        const back = (await call("GET", `/v1/integrations?limit=3&ending_before=${p3.data[0].id}`)).json();
        assert.deepEqual(back.data.map((r: { id: string }) => r.id), p2.data.map((r: { id: string }) => r.id));
        assert.equal(back.has_more, true);
      });

      it("defaults limit to 20 and refuses limits outside 1..100 and bad cursors", async () => {
        const call = asKey(t, await createTenant(t));
        for (const q of ["limit=0", "limit=101", "limit=abc", "starting_after=nope", "colour=red"]) {
          const res = await call("GET", `/v1/integrations?${q}`);
          assert.equal(res.statusCode, 400, `${q}: ${res.body}`);
          assert.equal(res.json().code, "validation_failed");
        }
      });

      it("a new connector's mode follows the key: live key → live, test key → sandbox, the body's mode wins", async () => {
        const live = await createTenant(t);
        const call = asKey(t, live);
        assert.equal((await call("POST", "/v1/integrations/stripe")).json().mode, "live");
        assert.equal((await call("POST", "/v1/integrations/postmark", { mode: "sandbox" })).json().mode, "sandbox");
        const testKey = await addKey(t, live.entityId, { mode: "test" });
        const byTest = await asKey(t, testKey)("POST", "/v1/integrations/openai");
        assert.equal(byTest.statusCode, 201, byTest.body);
        assert.equal(byTest.json().mode, "sandbox");
        const list = (await asKey(t, testKey)("GET", "/v1/integrations")).json();
        assert.deepEqual(list.data.map((r: { connector_type: string }) => r.connector_type).sort(), ["openai", "postmark"], "the test key sees its own and the sandbox one, not the live one");
      });

      it("a test key sees only sandbox connectors in the list", async () => {
        const live = await createTenant(t);
        const call = asKey(t, live);
        await call("POST", "/v1/integrations/stripe");
        await call("POST", "/v1/integrations/postmark", { mode: "sandbox" });
        const testKey = await addKey(t, live.entityId, { mode: "test" });
        const list = (await asKey(t, testKey)("GET", "/v1/integrations")).json();
        assert.deepEqual(list.data.map((r: { connector_type: string }) => r.connector_type), ["postmark"]);
      });

      it("the catalog describes all 16 types", async () => {
        const call = asKey(t, await createTenant(t));
        const res = await call("GET", "/v1/integrations/catalog");
        assert.equal(res.statusCode, 200);
        const data = res.json().data as { connector_type: string; auth_mode: string; required_fields: string[]; credential_keys: string[] }[];
        assert.deepEqual(data.map((d) => d.connector_type), [...CONNECTOR_TYPES]);
        assert.equal(data.find((d) => d.connector_type === "shopify")!.auth_mode, "B");
        assert.deepEqual(data.find((d) => d.connector_type === "amazon")!.required_fields, ["seller_id"]);
        assert.ok(data.find((d) => d.connector_type === "stripe")!.credential_keys.includes("secret_key"));
      });
    });

    describe("PATCH updates allow-listed fields (seed 000)", () => {
      it("answers {data: row} with the changes", async () => {
        const call = asKey(t, await createTenant(t));
        await call("POST", "/v1/integrations/ups", SHIP_FROM);
        const res = await call("PATCH", "/v1/integrations/ups", { display_name: "UPS East", ship_from_city: "Chicago", is_active: false });
        assert.equal(res.statusCode, 200, res.body);
        const row = res.json().data;
        assertSeedRow(row);
        assert.equal(row.display_name, "UPS East");
        assert.equal(row.ship_from_city, "Chicago");
        assert.equal(row.is_active, false);
        assert.notEqual(row.updated_at, row.created_at);
      });

      for (const field of ["connector_type", "id", "entity_id", "credentials", "webhook_secret", "sync_status", "last_sync_at", "shop", "created_at"]) {
        it(`refuses "${field}" with 400 validation_failed naming it`, async () => {
          const call = asKey(t, await createTenant(t));
          await call("POST", "/v1/integrations/stripe");
          const res = await call("PATCH", "/v1/integrations/stripe", { display_name: "ok", [field]: "x" });
          assert.equal(res.statusCode, 400, res.body);
          assert.equal(res.json().code, "validation_failed");
          assert.equal(res.json().param, field);
          assert.match(res.json().hint, new RegExp(field));
          assert.equal((await call("GET", "/v1/integrations/stripe")).json().data.display_name, "Stripe", "nothing was written");
        });
      }

      it("merges config per RFC 7396: nested objects merge, null removes, arrays replace", async () => {
        const call = asKey(t, await createTenant(t));
        await call("POST", "/v1/integrations/stripe", { config: { currency: "usd", capture_method: "manual", metadata: { a: "1", b: "2" } } });
        const res = await call("PATCH", "/v1/integrations/stripe", { config: { capture_method: null, metadata: { b: null, c: "3" } } });
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual(res.json().data.config, { currency: "usd", metadata: { a: "1", c: "3" } });

        await call("POST", "/v1/integrations/amazon", { seller_id: "S1", config: { marketplace_ids: ["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"] } });
        const arr = await call("PATCH", "/v1/integrations/amazon", { config: { marketplace_ids: ["A1PA6795UKMFR9"] } });
        assert.deepEqual(arr.json().data.config.marketplace_ids, ["A1PA6795UKMFR9"]);
      });

      it("validates the merged config", async () => {
        const call = asKey(t, await createTenant(t));
        await call("POST", "/v1/integrations/stripe", { config: { currency: "usd" } });
        const res = await call("PATCH", "/v1/integrations/stripe", { config: { currency: 5 } });
        assert.equal(res.statusCode, 400);
        assert.equal(res.json().param, "config.currency");
      });

      it("bank_account_id must be a uuid", async () => {
        const call = asKey(t, await createTenant(t));
        await call("POST", "/v1/integrations/plaid", { bank_account_id: "3c90c3cc-0d44-4b50-8888-8dd25736052a" });
        const res = await call("PATCH", "/v1/integrations/plaid", { bank_account_id: "not-a-uuid" });
        assert.equal(res.statusCode, 400);
        assert.equal(res.json().param, "bank_account_id");
      });

      it("an empty PATCH changes nothing", async () => {
        const call = asKey(t, await createTenant(t));
        const created = (await call("POST", "/v1/integrations/stripe")).json();
        const res = await call("PATCH", "/v1/integrations/stripe", {});
        assert.equal(res.statusCode, 200);
        assert.equal(res.json().data.updated_at, created.updated_at);
      });

      it("PATCH of an absent connector is 404", async () => {
        const call = asKey(t, await createTenant(t));
        assert.equal((await call("PATCH", "/v1/integrations/stripe", { display_name: "x" })).statusCode, 404);
      });
    });

    describe("test keys act only on sandbox connectors", () => {
      it("POST or PATCH to mode live with a test key → 403; sandbox works", async () => {
        const tenant = await createTenant(t, { mode: "test" });
        const call = asKey(t, tenant);
        let res = await call("POST", "/v1/integrations/stripe", { mode: "live" });
        assert.equal(res.statusCode, 403);
        assert.equal(res.json().code, "live_mode_forbidden");
        assert.equal((await call("GET", "/v1/integrations/stripe")).statusCode, 404, "nothing was created");
        assert.equal((await call("POST", "/v1/integrations/stripe")).statusCode, 201);
        res = await call("PATCH", "/v1/integrations/stripe", { mode: "live" });
        assert.equal(res.statusCode, 403);
        assert.equal((await call("GET", "/v1/integrations/stripe")).json().data.mode, "sandbox");
      });
    });

    describe("DELETE disconnects softly, and a re-POST within 7 days restores (seeds 001, 002)", () => {
      it("DELETE answers {data} with is_active false; GET still shows it", async () => {
        const call = asKey(t, await createTenant(t));
        await call("POST", "/v1/integrations/stripe", { config: { currency: "eur" } });
        const res = await call("DELETE", "/v1/integrations/stripe");
        assert.equal(res.statusCode, 200);
        assertSeedRow(res.json().data);
        assert.equal(res.json().data.is_active, false);
        assert.equal((await call("GET", "/v1/integrations/stripe")).json().data.is_active, false);
        const again = await call("DELETE", "/v1/integrations/stripe");
        assert.equal(again.statusCode, 200, "disconnecting twice is harmless");
        assert.equal(again.json().data.disconnected_at, res.json().data.disconnected_at);
      });

      it("PATCH of a disconnected connector → 409 with a hint to restore", async () => {
        const call = asKey(t, await createTenant(t));
        await call("POST", "/v1/integrations/stripe");
        await call("DELETE", "/v1/integrations/stripe");
        const res = await call("PATCH", "/v1/integrations/stripe", { is_active: true });
        assert.equal(res.statusCode, 409);
        assert.equal(res.json().code, "connector_disconnected");
        assert.match(res.json().hint, /POST/);
      });

      it("re-POST within the window restores the prior row (200) with the new fields applied", async () => {
        const call = asKey(t, await createTenant(t));
        const created = (await call("POST", "/v1/integrations/stripe", { config: { currency: "eur" } })).json();
        await call("DELETE", "/v1/integrations/stripe");
        t.clock.advanceDays(6);
        const res = await call("POST", "/v1/integrations/stripe", { display_name: "Back" });
        assert.equal(res.statusCode, 200, res.body);
        const row = res.json();
        assert.equal(row.id, created.id);
        assert.equal(row.is_active, true);
        assert.equal(row.display_name, "Back");
        assert.deepEqual(row.config, { currency: "eur" });
        assert.equal(row.disconnected_at, null);
      });

      it("after 7 days the connector is gone: GET 404, re-POST starts fresh (201)", async () => {
        const call = asKey(t, await createTenant(t));
        const created = (await call("POST", "/v1/integrations/stripe", { config: { currency: "eur" } })).json();
        await call("DELETE", "/v1/integrations/stripe");
        t.clock.advanceDays(7);
        assert.equal((await call("GET", "/v1/integrations/stripe")).statusCode, 404);
        const res = await call("POST", "/v1/integrations/stripe");
        assert.equal(res.statusCode, 201, res.body);
        assert.notEqual(res.json().id, created.id);
        assert.deepEqual(res.json().config, {});
      });
    });

    describe("bad input is a clear 4xx in the flat shape, never a 500", () => {
      it("malformed JSON → 400 invalid_json", async () => {
        const call = asKey(t, await createTenant(t));
        const res = await call("POST", "/v1/integrations/stripe", "{bad", { "content-type": "application/json" });
        assert.equal(res.statusCode, 400);
        assert.equal(res.json().code, "invalid_json");
      });

      it("an oversize body → 413", async () => {
        const call = asKey(t, await createTenant(t));
        const res = await call("POST", "/v1/integrations/stripe", { display_name: "x".repeat(2 * 1024 * 1024) });
        assert.equal(res.statusCode, 413);
        assert.equal(res.json().code, "body_too_large");
      });

      it("a non-JSON content type → 415", async () => {
        const call = asKey(t, await createTenant(t));
        const res = await call("POST", "/v1/integrations/stripe", "display_name=x", { "content-type": "application/x-www-form-urlencoded" });
        assert.equal(res.statusCode, 415);
        assert.equal(res.json().code, "unsupported_media_type");
      });

      it("every response has x-request-id, and errors carry the same request_id", async () => {
        const call = asKey(t, await createTenant(t));
        const res = await call("GET", "/v1/integrations/stripe");
        assert.match(String(res.headers["x-request-id"]), /^req_/);
        assert.equal(res.json().request_id, res.headers["x-request-id"]);
        const ok = await t.request({ method: "GET", url: "/healthz" });
        assert.match(String(ok.headers["x-request-id"]), /^req_/);
      });

      it("an unknown route → 404 in the flat shape", async () => {
        const res = await t.request({ method: "GET", url: "/v1/nothing-here" });
        assert.equal(res.statusCode, 404);
        assert.equal(res.json().code, "route_not_found");
      });
    });

    describe("security battery", () => {
      const ownConnector = async (tt: TestApp, owner: { key: string }, mode = "sandbox") => {
        const res = await asKey(tt, owner)("POST", "/v1/integrations/stripe", { mode });
        assert.equal(res.statusCode, 201, res.body);
        return { type: "stripe", id: res.json().id as string };
      };
      const routes = [
        { method: "GET" as const, scope: "integrations:read" as const, url: () => "/v1/integrations" },
        { method: "GET" as const, scope: "integrations:read" as const, url: () => "/v1/integrations/catalog" },
        { method: "GET" as const, scope: "integrations:read" as const, url: () => "/v1/integrations/stripe", setup: ownConnector, setupLive: (a: TestApp, o: { key: string }) => ownConnector(a, o, "live") },
        { method: "POST" as const, scope: "integrations:write" as const, url: () => "/v1/integrations/postmark", payload: {} },
        { method: "PATCH" as const, scope: "integrations:write" as const, url: () => "/v1/integrations/stripe", payload: { display_name: "x" }, setup: ownConnector, setupLive: (a: TestApp, o: { key: string }) => ownConnector(a, o, "live") },
        { method: "DELETE" as const, scope: "integrations:write" as const, url: () => "/v1/integrations/stripe", setup: ownConnector, setupLive: (a: TestApp, o: { key: string }) => ownConnector(a, o, "live") },
      ];
      for (const r of routes) runSecurityBattery(`${r.method} ${r.url()}`, () => t, { ...r, surface: bearerSurface });
    });
  });
}
