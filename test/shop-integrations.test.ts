import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CARRIER_CODES } from "../src/services/shop-integrations.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { addKey, asKey, createTenant, type Tenant } from "./helpers/fixtures.ts";
import { runSecurityBattery } from "./helpers/security-battery.ts";
import { asBasic, basicHeader, basicSurface, connectShop, insertShopify, jsonApiErrors } from "./helpers/shop-integrations.ts";

const OBJECT_FIELDS = [
  "id", "shop_name", "shop_url", "type", "service_point_enabled", "service_point_carriers", "webhook_active",
  "webhook_url", "feedback_type", "started_failing_at", "last_fetched_at", "created_at", "updated_at",
];

/** Seed 004's error object, to the letter. */
const SEED_WEBHOOK_ERROR = {
  errors: [{ status: "400", code: "invalid", title: "Invalid", detail: "Webhook URL required when enable webhook is set to true" }],
};

const NOT_FOUND_DETAIL = "The Integration could not be found with the search criteria given";

type Integration = Record<string, unknown> & { id: number; type: string };

for (const kind of DB_KINDS) {
  describe(`[${kind}] /api/v3/integrations`, () => {
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
        for (const headers of [{}, { authorization: "Bearer ark_live_ent_x" }]) {
          const res = await t.request({ method: "GET", url: "/api/v3/integrations", headers });
          assert.equal(res.statusCode, 401);
          assert.match(String(res.headers["www-authenticate"]), /^Basic realm=/);
          assert.deepEqual(res.json(), {
            errors: [{ status: "401", code: "authentication_failed", title: "Authentication failed", detail: "Authentication credentials were not provided." }],
          });
        }
      });

      it("wrong credentials → 401 authentication_failed, Invalid username/password.", async () => {
        const { tenant } = await oneShop();
        const other = await createTenant(t);
        const cases = [
          basicHeader(tenant.publicKey, `${tenant.key.slice(0, -1)}X`), // wrong password
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
          assert.deepEqual(res.json(), {
            errors: [{ status: "401", code: "authentication_failed", title: "Authentication failed", detail: "Invalid username/password." }],
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

    describe("GET /api/v3/integrations lists the entity's shop integrations", () => {
      it("answers {data:[…]} with every object field; only shop types, only this entity's, no disconnected ones", async () => {
        const tenant = await createTenant(t);
        const v1 = asKey(t, tenant);
        const amazon = await connectShop(t, tenant, "amazon");
        const shopify = await insertShopify(t, tenant);
        const ebay = await connectShop(t, tenant, "ebay");
        assert.equal((await v1("POST", "/v1/integrations/stripe")).statusCode, 201);
        await connectShop(t, await createTenant(t), "amazon");
        assert.equal((await v1("DELETE", "/v1/integrations/ebay")).statusCode, 200);

        const res = await asBasic(t, tenant)("GET", "/api/v3/integrations");
        assert.equal(res.statusCode, 200, res.body);
        const data = res.json().data as Integration[];
        assert.deepEqual(data.map((d) => d.id).sort(), [amazon, shopify].sort());
        assert.ok(!data.some((d) => d.id === ebay));
        for (const d of data) assert.deepEqual(Object.keys(d).sort(), [...OBJECT_FIELDS].sort());
        const a = data.find((d) => d.id === amazon)!;
        assert.equal(a.type, "amazon");
        assert.equal(a.shop_name, "Amazon Seller Central");
        assert.deepEqual(
          { ...a, id: 0, created_at: "", updated_at: "" },
          {
            id: 0, shop_name: "Amazon Seller Central", shop_url: null, type: "amazon", service_point_enabled: false, service_point_carriers: [],
            webhook_active: false, webhook_url: null, feedback_type: "none", started_failing_at: null, last_fetched_at: null, created_at: "", updated_at: "",
          },
        );
        assert.equal(data.find((d) => d.id === shopify)!.type, "shopify");
      });

      it("an entity without shop connectors gets an empty list", async () => {
        const res = await asBasic(t, await createTenant(t))("GET", "/api/v3/integrations");
        assert.equal(res.statusCode, 200);
        assert.deepEqual(res.json(), { data: [] });
      });

      it("a test key sees sandbox integrations only", async () => {
        const tenant = await createTenant(t);
        await connectShop(t, tenant, "amazon", { mode: "live" });
        const ebay = await connectShop(t, tenant, "ebay");
        const testKey = await addKey(t, tenant.entityId, { mode: "test" });
        const res = await asBasic(t, testKey)("GET", "/api/v3/integrations");
        assert.deepEqual((res.json().data as Integration[]).map((d) => d.id), [ebay]);
      });
    });

    describe("sort on integration_type, created_at, updated_at, last_fetch, failing_since ('-' descending)", () => {
      /** ebay, shopify, amazon created in that order; fetched: shopify first, then amazon; ebay never. */
      const threeShops = async () => {
        const tenant = await createTenant(t);
        const ids = {
          ebay: await connectShop(t, tenant, "ebay"),
          shopify: await insertShopify(t, tenant),
          amazon: await connectShop(t, tenant, "amazon"),
        };
        const base = t.clock.now().getTime();
        const db = t.database.db;
        await db.updateTable("connectors").set({ last_sync_at: new Date(base + 3_600_000) }).where("shop_integration_id", "=", ids.shopify).execute();
        await db.updateTable("connectors").set({ last_sync_at: new Date(base + 7_200_000) }).where("shop_integration_id", "=", ids.amazon).execute();
        const call = asBasic(t, tenant);
        // updated_at: shopify untouched since creation, then ebay, then amazon.
        for (const id of [ids.ebay, ids.amazon]) assert.equal((await call("PATCH", `/api/v3/integrations/${id}`, { feedback_type: "eager" })).statusCode, 204);
        const order = async (sort?: string) => {
          const res = await call("GET", `/api/v3/integrations${sort === undefined ? "" : `?sort=${encodeURIComponent(sort)}`}`);
          assert.equal(res.statusCode, 200, res.body);
          const byId = new Map(Object.entries(ids).map(([type, id]) => [id, type]));
          return (res.json().data as Integration[]).map((d) => byId.get(d.id));
        };
        return { tenant, ids, call, order };
      };

      it("defaults to last_fetch, then created_at; never-fetched ones last", async () => {
        const { order } = await threeShops();
        assert.deepEqual(await order(), ["shopify", "amazon", "ebay"]);
      });

      it("each field ascending and descending", async () => {
        const { order } = await threeShops();
        const expected: Record<string, string[]> = {
          integration_type: ["amazon", "ebay", "shopify"],
          created_at: ["ebay", "shopify", "amazon"],
          updated_at: ["shopify", "ebay", "amazon"],
          last_fetch: ["shopify", "amazon", "ebay"],
        };
        for (const [field, asc] of Object.entries(expected)) {
          assert.deepEqual(await order(field), asc, field);
          const desc = field === "last_fetch" ? ["amazon", "shopify", "ebay"] : [...asc].reverse(); // unset values stay last
          assert.deepEqual(await order(`-${field}`), desc, `-${field}`);
        }
      });

      it("several fields, comma-separated", async () => {
        const { order } = await threeShops();
        assert.deepEqual(await order("-last_fetch,created_at"), ["amazon", "shopify", "ebay"]);
        assert.deepEqual(await order("failing_since,-created_at"), ["amazon", "shopify", "ebay"]);
      });

      it("failing_since sorts by when sync turned failing, never-failing last", async () => {
        const { ids, order } = await threeShops();
        const db = t.database.db;
        const at = (h: number) => new Date(t.clock.now().getTime() + h * 3_600_000);
        await db.updateTable("connectors").set({ sync_status: "unreachable", last_sync_at: at(5) }).where("shop_integration_id", "=", ids.amazon).execute();
        await db.updateTable("connectors").set({ sync_status: "auth_failed", last_sync_at: at(10) }).where("shop_integration_id", "=", ids.ebay).execute();
        assert.deepEqual(await order("failing_since"), ["amazon", "ebay", "shopify"]);
        assert.deepEqual(await order("-failing_since"), ["ebay", "amazon", "shopify"]);
      });

      it("an unknown, repeated or empty sort field → 400 invalid naming the sort parameter", async () => {
        const { call } = await threeShops();
        for (const sort of ["colour", "-name", "created_at,created_at", "", "created_at,", "--created_at", "last_fetched_at", "toString"]) {
          const res = await call("GET", `/api/v3/integrations?sort=${encodeURIComponent(sort)}`);
          assert.equal(res.statusCode, 400, `${sort}: ${res.body}`);
          const [e] = jsonApiErrors(res.json(), 400);
          assert.equal(e!.code, "invalid");
          assert.deepEqual(e!.source, { parameter: "sort" });
        }
        const unknownParam = await call("GET", "/api/v3/integrations?colour=red");
        assert.equal(unknownParam.statusCode, 400);
        assert.deepEqual(jsonApiErrors(unknownParam.json(), 400)[0]!.source, { parameter: "colour" });
      });
    });

    describe("GET /api/v3/integrations/{id}: id an integer ≥ 1, else 400; unknown or not yours → 404", () => {
      it("answers {data:{…}}", async () => {
        const { id, call } = await oneShop();
        const res = await call("GET", `/api/v3/integrations/${id}`);
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().data.id, id);
        assert.deepEqual(Object.keys(res.json().data).sort(), [...OBJECT_FIELDS].sort());
      });

      it("an id that is not an integer ≥ 1 → 400 invalid on parameter id, on every method", async () => {
        const { call } = await oneShop();
        for (const raw of ["abc", "0", "-1", "1.5", "0x10", "1e3", "%201", "00"]) {
          for (const method of ["GET", "PATCH", "DELETE"] as const) {
            const res = await call(method, `/api/v3/integrations/${raw}`, method === "PATCH" ? { shop_name: "x" } : undefined);
            assert.equal(res.statusCode, 400, `${method} ${raw}: ${res.body}`);
            assert.deepEqual(res.json().errors, [
              { status: "400", code: "invalid", title: "Invalid", detail: "The integration id must be an integer of at least 1", source: { parameter: "id" } },
            ]);
          }
        }
      });

      it("unknown, out-of-range, another entity's, a non-shop connector's and a disconnected one → 404 not_found", async () => {
        const { tenant, id, call, v1 } = await oneShop();
        const stripe = await v1("POST", "/v1/integrations/stripe");
        const stripeId = (await t.database.db.selectFrom("connectors").select("shop_integration_id").where("id", "=", stripe.json().id).executeTakeFirstOrThrow()).shop_integration_id;
        const ebay = await connectShop(t, tenant, "ebay");
        await v1("DELETE", "/v1/integrations/ebay");
        const strangers = asBasic(t, await createTenant(t));
        const cases: [typeof call, number | string][] = [
          [call, 2_000_000_000], [call, "99999999999999999999"], [call, stripeId], [call, ebay], [strangers, id],
        ];
        for (const [caller, target] of cases) {
          for (const method of ["GET", "PATCH", "DELETE"] as const) {
            const res = await caller(method, `/api/v3/integrations/${target}`, method === "PATCH" ? { shop_name: "x" } : undefined);
            assert.equal(res.statusCode, 404, `${method} ${target}: ${res.body}`);
            assert.deepEqual(res.json(), { errors: [{ status: "404", code: "not_found", title: "Not found", detail: NOT_FOUND_DETAIL }] });
          }
        }
        assert.equal((await call("GET", `/api/v3/integrations/${id}`)).json().data.shop_name, "Amazon Seller Central", "the stranger changed nothing");
      });
    });

    describe("PATCH → 204 No Content (seed 004's example)", () => {
      it('the seed\'s curl: {"shop_name": "My Webshop"} → 204 with an empty body, and GET shows the new name', async () => {
        const { tenant, id } = await oneShop();
        const res = await t.request({
          method: "PATCH",
          url: `/api/v3/integrations/${id}`,
          headers: { authorization: `Basic ${Buffer.from(`${tenant.publicKey}:${tenant.key}`).toString("base64")}`, "content-type": "application/json" },
          payload: '\n{\n  "shop_name": "My Webshop"\n}\n',
        });
        assert.equal(res.statusCode, 204, res.body);
        assert.equal(res.body, "");
        const get = await asBasic(t, tenant)("GET", `/api/v3/integrations/${id}`);
        assert.equal(get.json().data.shop_name, "My Webshop");
      });

      it("updates every settable field; omitted ones stay; updated_at moves", async () => {
        const { id, call } = await oneShop();
        const before = (await call("GET", `/api/v3/integrations/${id}`)).json().data;
        const patch = {
          shop_name: "Acme on Amazon",
          shop_url: "https://www.amazon.com/shops/acme",
          service_point_enabled: true,
          service_point_carriers: ["ups", "dhl"],
          webhook_active: true,
          webhook_url: "https://erp.example.com/hooks/parcels",
          feedback_type: "delayed",
        };
        assert.equal((await call("PATCH", `/api/v3/integrations/${id}`, patch)).statusCode, 204);
        const after1 = (await call("GET", `/api/v3/integrations/${id}`)).json().data;
        for (const [k, v] of Object.entries(patch)) assert.deepEqual(after1[k], v, k);
        assert.ok(after1.updated_at > before.updated_at);
        assert.equal(after1.created_at, before.created_at);

        assert.equal((await call("PATCH", `/api/v3/integrations/${id}`, { feedback_type: "none", service_point_carriers: ["postnl"] })).statusCode, 204);
        const after2 = (await call("GET", `/api/v3/integrations/${id}`)).json().data;
        assert.equal(after2.feedback_type, "none");
        assert.deepEqual(after2.service_point_carriers, ["postnl"]);
        assert.equal(after2.shop_name, "Acme on Amazon");
        assert.equal(after2.webhook_url, patch.webhook_url);

        assert.equal((await call("PATCH", `/api/v3/integrations/${id}`, { webhook_active: false, webhook_url: null })).statusCode, 204);
        const after3 = (await call("GET", `/api/v3/integrations/${id}`)).json().data;
        assert.equal(after3.webhook_active, false);
        assert.equal(after3.webhook_url, null);
      });

      it("an empty PATCH answers 204 and changes nothing", async () => {
        const { id, call } = await oneShop();
        const before = (await call("GET", `/api/v3/integrations/${id}`)).json().data;
        assert.equal((await call("PATCH", `/api/v3/integrations/${id}`, {})).statusCode, 204);
        assert.deepEqual((await call("GET", `/api/v3/integrations/${id}`)).json().data, before);
      });

      it("works on a Shopify integration too", async () => {
        const tenant = await createTenant(t);
        const id = await insertShopify(t, tenant, { display_name: "acme.myshopify.com" });
        const call = asBasic(t, tenant);
        assert.equal((await call("PATCH", `/api/v3/integrations/${id}`, { shop_url: "https://acme.myshopify.com/" })).statusCode, 204);
        const data = (await call("GET", `/api/v3/integrations/${id}`)).json().data;
        assert.equal(data.type, "shopify");
        assert.equal(data.shop_url, "https://acme.myshopify.com/");
      });
    });

    describe("webhook_url is required when webhook_active is true, on the merged record", () => {
      it("webhook_active:true without a URL → 400, exactly seed 004's error object", async () => {
        const { id, call } = await oneShop();
        const res = await call("PATCH", `/api/v3/integrations/${id}`, { webhook_active: true });
        assert.equal(res.statusCode, 400);
        assert.deepEqual(res.json(), SEED_WEBHOOK_ERROR);
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
        assert.deepEqual(res.json(), SEED_WEBHOOK_ERROR);
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
        const cases: [Record<string, unknown>, string][] = [
          [{ shop_name: "" }, "/shop_name"],
          [{ shop_name: "x".repeat(251) }, "/shop_name"],
          [{ shop_name: 7 }, "/shop_name"],
          [{ shop_name: null }, "/shop_name"],
          [{ shop_url: "not a url" }, "/shop_url"],
          [{ shop_url: "ftp://shop.example.com" }, "/shop_url"],
          [{ shop_url: "" }, "/shop_url"],
          [{ shop_url: null }, "/shop_url"],
          [{ shop_url: `https://example.com/${"x".repeat(2048)}` }, "/shop_url"],
          [{ webhook_url: "javascript:alert(1)" }, "/webhook_url"],
          [{ webhook_url: "" }, "/webhook_url"],
          [{ webhook_url: 5 }, "/webhook_url"],
          [{ service_point_enabled: "true" }, "/service_point_enabled"],
          [{ webhook_active: 1 }, "/webhook_active"],
          [{ service_point_carriers: "ups" }, "/service_point_carriers"],
          [{ service_point_carriers: ["ups", "pigeon"] }, "/service_point_carriers/1"],
          [{ service_point_carriers: ["UPS"] }, "/service_point_carriers/0"],
          [{ service_point_carriers: ["ups", "ups"] }, "/service_point_carriers"],
          [{ service_point_carriers: [null] }, "/service_point_carriers/0"],
          [{ feedback_type: "later" }, "/feedback_type"],
          [{ feedback_type: "" }, "/feedback_type"],
        ];
        for (const [body, pointer] of cases) {
          const res = await call("PATCH", `/api/v3/integrations/${id}`, body);
          assert.equal(res.statusCode, 400, `${JSON.stringify(body).slice(0, 80)}: ${res.body}`);
          const errors = jsonApiErrors(res.json(), 400);
          assert.deepEqual(errors.map((e) => e.source?.pointer), [pointer], JSON.stringify(body).slice(0, 80));
          assert.equal(errors[0]!.code, "invalid");
          assert.equal(errors[0]!.title, "Invalid");
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
          assert.deepEqual(res.json().errors, [
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
            ["invalid", "/feedback_type"],
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
        assert.equal(jsonApiErrors(bad.json(), 400)[0]!.code, "invalid_json");
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

      it("an unknown route under /api/v3 → 404 in the JSON:API shape", async () => {
        const { call } = await oneShop();
        for (const [method, url] of [["GET", "/api/v3/nothing"], ["POST", "/api/v3/integrations"], ["PUT", "/api/v3/integrations/1"]] as const) {
          const res = await call(method, url, method === "GET" ? undefined : {});
          assert.equal(res.statusCode, 404, `${method} ${url}`);
          assert.equal(jsonApiErrors(res.json(), 404)[0]!.code, "not_found");
        }
      });
    });

    describe("DELETE → 204 disconnects the connector (7-day recovery, as /v1)", () => {
      it("answers 204 with no body; the integration leaves the list; GET, PATCH and DELETE of it → 404", async () => {
        const { id, call } = await oneShop();
        const res = await call("DELETE", `/api/v3/integrations/${id}`);
        assert.equal(res.statusCode, 204, res.body);
        assert.equal(res.body, "");
        assert.deepEqual((await call("GET", "/api/v3/integrations")).json().data, []);
        for (const method of ["GET", "PATCH", "DELETE"] as const) {
          const again = await call(method, `/api/v3/integrations/${id}`, method === "PATCH" ? { shop_name: "x" } : undefined);
          assert.equal(again.statusCode, 404, method);
        }
      });
    });

    describe("one record, two views: a change through either surface shows in the other", () => {
      it("PATCH shop_name on v3 → /v1 display_name; PATCH display_name on /v1 → v3 shop_name", async () => {
        const { id, call, v1 } = await oneShop();
        assert.equal((await call("PATCH", `/api/v3/integrations/${id}`, { shop_name: "My Webshop" })).statusCode, 204);
        const row = (await v1("GET", "/v1/integrations/amazon")).json().data;
        assert.equal(row.display_name, "My Webshop");
        assert.equal((await v1("PATCH", "/v1/integrations/amazon", { display_name: "Renamed on v1" })).statusCode, 200);
        const data = (await call("GET", `/api/v3/integrations/${id}`)).json().data;
        assert.equal(data.shop_name, "Renamed on v1");
        assert.equal(data.updated_at, (await v1("GET", "/v1/integrations/amazon")).json().data.updated_at);
        assert.equal(data.created_at, row.created_at);
      });

      it("last_fetched_at is the connector's last_sync_at", async () => {
        const { id, call, v1 } = await oneShop();
        const at = new Date(t.clock.now().getTime() + 60_000);
        await t.database.db.updateTable("connectors").set({ last_sync_at: at }).where("shop_integration_id", "=", id).execute();
        assert.equal((await call("GET", `/api/v3/integrations/${id}`)).json().data.last_fetched_at, at.toISOString());
        assert.equal((await v1("GET", "/v1/integrations/amazon")).json().data.last_sync_at, at.toISOString());
      });

      it("DELETE on v3 → /v1 shows is_active:false; a re-POST on /v1 restores it, and v3 shows it again with the same id and settings", async () => {
        const { id, call, v1 } = await oneShop();
        const settings = { shop_name: "Acme", webhook_active: true, webhook_url: "https://erp.example.com/hook", service_point_enabled: true, service_point_carriers: ["gls"] };
        assert.equal((await call("PATCH", `/api/v3/integrations/${id}`, settings)).statusCode, 204);
        assert.equal((await call("DELETE", `/api/v3/integrations/${id}`)).statusCode, 204);

        const row = (await v1("GET", "/v1/integrations/amazon")).json().data;
        assert.equal(row.is_active, false);
        assert.notEqual(row.disconnected_at, null);

        t.clock.advanceDays(6);
        const restored = await v1("POST", "/v1/integrations/amazon", { seller_id: "SELLERAMAZON" });
        assert.equal(restored.statusCode, 200, restored.body);
        assert.equal(restored.json().is_active, true);
        const data = (await call("GET", `/api/v3/integrations/${id}`)).json().data;
        assert.equal(data.id, id);
        for (const [k, v] of Object.entries(settings)) assert.deepEqual(data[k], v, k);
        assert.deepEqual((await call("GET", "/api/v3/integrations")).json().data.map((d: Integration) => d.id), [id]);
      });

      it("DELETE on /v1 hides it on v3; past the 7-day window a re-POST is a new integration with a new id", async () => {
        const { id, call, v1 } = await oneShop();
        assert.equal((await v1("DELETE", "/v1/integrations/amazon")).statusCode, 200);
        assert.equal((await call("GET", `/api/v3/integrations/${id}`)).statusCode, 404);
        t.clock.advanceDays(7);
        const fresh = await v1("POST", "/v1/integrations/amazon", { seller_id: "SELLERAMAZON" });
        assert.equal(fresh.statusCode, 201, fresh.body);
        const list = (await call("GET", "/api/v3/integrations")).json().data as Integration[];
        assert.equal(list.length, 1);
        assert.notEqual(list[0]!.id, id);
        assert.equal(list[0]!.webhook_active, false);
        assert.equal((await call("GET", `/api/v3/integrations/${id}`)).statusCode, 404);
      });

      it("the /v1 row carries none of the v3-only columns, and v3 carries no connector secret or config", async () => {
        const { id, call, v1 } = await oneShop({ config: { region: "eu" } });
        await call("PATCH", `/api/v3/integrations/${id}`, { shop_url: "https://shop.example.com/" });
        const row = (await v1("GET", "/v1/integrations/amazon")).json().data;
        for (const f of ["shop_integration_id", "shop_url", "webhook_url", "sync_failing_since"]) assert.ok(!(f in row), f);
        const data = (await call("GET", `/api/v3/integrations/${id}`)).json().data;
        for (const f of ["config", "seller_id", "entity_id", "credentials_masked"]) assert.ok(!(f in data), f);
      });
    });

    describe("started_failing_at is when the connector's sync status turned failing", () => {
      it("set on the first failing status, kept while it fails, cleared when healthy again", async () => {
        const { id, call } = await oneShop();
        const db = t.database.db;
        const setStatus = async (sync_status: string | null, at: Date) =>
          db.updateTable("connectors").set({ sync_status, last_sync_at: at, updated_at: at }).where("shop_integration_id", "=", id).execute();
        const failingSince = async () => (await call("GET", `/api/v3/integrations/${id}`)).json().data.started_failing_at;
        const t0 = t.clock.now().getTime();
        const at = (m: number) => new Date(t0 + m * 60_000);

        await setStatus("ok", at(1));
        assert.equal(await failingSince(), null);
        await setStatus("auth_failed", at(2));
        assert.equal(await failingSince(), at(2).toISOString());
        await setStatus("unreachable", at(3));
        assert.equal(await failingSince(), at(2).toISOString(), "still failing since the first failure");
        await setStatus("connected", at(4));
        assert.equal(await failingSince(), null);
        await setStatus("unreachable", at(5));
        assert.equal(await failingSince(), at(5).toISOString());
      });
    });

    describe("security battery", () => {
      const shopOf = (mode: "sandbox" | "live") => async (tt: TestApp, owner: Tenant) => ({ id: String(await connectShop(tt, owner, "amazon", { mode })) });
      const routes = [
        { method: "GET" as const, scope: "integrations:read" as const, url: () => "/api/v3/integrations" },
        { method: "GET" as const, scope: "integrations:read" as const, url: (c: Record<string, string>) => `/api/v3/integrations/${c.id}`, setup: shopOf("sandbox"), setupLive: shopOf("live") },
        { method: "PATCH" as const, scope: "integrations:write" as const, url: (c: Record<string, string>) => `/api/v3/integrations/${c.id}`, payload: { shop_name: "x" }, setup: shopOf("sandbox"), setupLive: shopOf("live") },
        { method: "DELETE" as const, scope: "integrations:write" as const, url: (c: Record<string, string>) => `/api/v3/integrations/${c.id}`, setup: shopOf("sandbox"), setupLive: shopOf("live") },
      ];
      for (const r of routes) runSecurityBattery(`${r.method} ${r.url({ id: "{id}" })}`, () => t, { ...r, surface: basicSurface });

      it("a test key may change a sandbox integration but not a live one (nothing written)", async () => {
        const tenant = await createTenant(t);
        const live = await connectShop(t, tenant, "amazon", { mode: "live" });
        const sandbox = await connectShop(t, tenant, "ebay");
        const testCall = asBasic(t, await addKey(t, tenant.entityId, { mode: "test" }));
        assert.equal((await testCall("PATCH", `/api/v3/integrations/${sandbox}`, { shop_name: "ok" })).statusCode, 204);
        const res = await testCall("PATCH", `/api/v3/integrations/${live}`, { shop_name: "nope" });
        assert.equal(res.statusCode, 403);
        assert.equal(jsonApiErrors(res.json(), 403)[0]!.code, "live_mode_forbidden");
        assert.equal((await asBasic(t, tenant)("GET", `/api/v3/integrations/${live}`)).json().data.shop_name, "Amazon Seller Central");
      });
    });

    describe("OpenAPI documents the surface", () => {
      it("lists the four routes under Basic auth", async () => {
        const doc = (await t.request({ method: "GET", url: "/openapi.json" })).json();
        assert.deepEqual(Object.keys(doc.paths["/api/v3/integrations/{id}"]).sort(), ["delete", "get", "patch"]);
        assert.ok(doc.paths["/api/v3/integrations"].get);
        assert.equal(doc.components.securitySchemes.basicAuth.scheme, "basic");
        assert.deepEqual(doc.paths["/api/v3/integrations/{id}"].patch.security, [{ basicAuth: [] }]);
      });
    });
  });
}
