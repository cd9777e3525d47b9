import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { addKey, asKey, createTenant } from "./helpers/fixtures.ts";
import { asBasic, bareErrors, connectShop, insertShopify, jsonApiErrors } from "./helpers/shop-integrations.ts";

// The shop-integrations surface doing its job; its refusals are in shop-integrations-rules.test.ts.

const OBJECT_FIELDS = [
  "id", "shop_name", "shop_url", "type", "service_point_enabled", "service_point_carriers", "webhook_active",
  "webhook_url", "feedback_type", "started_failing_at", "last_fetched_at", "created_at", "updated_at",
];

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

    describe("GET /api/v3/integrations lists the entity's shop integrations", () => {
      it("answers {data:[…]} with every object field; only shop types, only this entity's, no disconnected ones", async () => {
        const tenant = await createTenant(t);
        const v1 = asKey(t, tenant);
        const amazon = await connectShop(t, tenant, "amazon");
        const shopify = await insertShopify(t, tenant);
        const ebay = await connectShop(t, tenant, "ebay", { mode: "sandbox" });
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
        const ebay = await connectShop(t, tenant, "ebay", { mode: "sandbox" });
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
        // Not decimal digits → invalid; digits below the spec's minimum 1 → min_value.
        for (const raw of ["abc", "0", "-1", "1.5", "0x10", "1e3", "%201", "00"]) {
          for (const method of ["GET", "PATCH", "DELETE"] as const) {
            const res = await call(method, `/api/v3/integrations/${raw}`, method === "PATCH" ? { shop_name: "x" } : undefined);
            assert.equal(res.statusCode, 400, `${method} ${raw}: ${res.body}`);
            const minimum = raw === "0" || raw === "00";
            assert.deepEqual(bareErrors(res).errors, [
              {
                status: "400",
                code: minimum ? "min_value" : "invalid",
                title: minimum ? "Min value" : "Invalid",
                detail: "The integration id must be an integer of at least 1",
                source: { parameter: "id" },
                ...(minimum ? { meta: { min_value: 1 } } : {}),
              },
            ]);
          }
        }
      });

      it("unknown, out-of-range, another entity's, a non-shop connector's and a disconnected one → 404 not_found", async () => {
        const { tenant, id, call, v1 } = await oneShop();
        const stripe = await v1("POST", "/v1/integrations/stripe");
        const stripeId = (await t.database.db.selectFrom("connectors").select("shop_integration_id").where("id", "=", stripe.json().id).executeTakeFirstOrThrow()).shop_integration_id;
        const ebay = await connectShop(t, tenant, "ebay", { mode: "sandbox" });
        await v1("DELETE", "/v1/integrations/ebay");
        const strangers = asBasic(t, await createTenant(t));
        const cases: [typeof call, number | string][] = [
          [call, 2_000_000_000], [call, "99999999999999999999"], [call, stripeId], [call, ebay], [strangers, id],
        ];
        for (const [caller, target] of cases) {
          for (const method of ["GET", "PATCH", "DELETE"] as const) {
            const res = await caller(method, `/api/v3/integrations/${target}`, method === "PATCH" ? { shop_name: "x" } : undefined);
            assert.equal(res.statusCode, 404, `${method} ${target}: ${res.body}`);
            assert.deepEqual(bareErrors(res), { errors: [{ status: "404", code: "not_found", title: "Not Found", detail: NOT_FOUND_DETAIL }] });
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

    describe("OpenAPI documents the surface", () => {
      it("lists the four routes under Basic auth", async () => {
        const doc = (await t.request({ method: "GET", url: "/openapi.json" })).json();
        assert.deepEqual(Object.keys(doc.paths["/api/v3/integrations/{id}"]).sort(), ["delete", "get", "patch"]);
        assert.ok(doc.paths["/api/v3/integrations"].get);
        assert.equal(doc.components.securitySchemes.basicAuth.scheme, "basic");
        assert.deepEqual(doc.paths["/api/v3/integrations/{id}"].patch.security, [{ basicAuth: [] }, { oauth2ClientCredentials: ["api"] }], "the spec's two schemes: Basic, or an OAuth2 bearer token");
        assert.equal(doc.components.securitySchemes.oauth2ClientCredentials.flows.clientCredentials.scopes.api.length > 0, true);
      });
    });
  });
}
