import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { unstorablePath } from "../src/surfaces/shared/validator.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { asConnectionsKey, createConnection, mintToken } from "./helpers/connections.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { asKey, createTenant } from "./helpers/fixtures.ts";
import { asBasic, connectShop, jsonApiErrors } from "./helpers/shop-integrations.ts";

// Input PostgreSQL cannot store (U+0000) and bodies nested deeper than any
// schema: a clear 4xx in each surface's own error shape, never a 500, nothing written.

const NUL = "\u0000";
const HIGH = "\ud800";
const LOW = "\udc00";
/** Sent as raw text: JSON.stringify itself cannot serialise it. */
const DEEP_TEXT = `{"config":${"[".repeat(5000)}${"]".repeat(5000)}}`;
const JSON_TYPE = { "content-type": "application/json" };

describe("unstorablePath names the first string holding U+0000 or a lone surrogate", () => {
  it("finds values and keys at any depth, escaping JSON-pointer characters", () => {
    const at = (v: unknown) => unstorablePath(v)?.path ?? null;
    assert.equal(at({ a: "x", b: [1, "y"] }), null);
    assert.equal(at(`a${NUL}`), "");
    assert.equal(at({ a: { "b/c~": [0, `z${NUL}`] } }), "/a/b~1c~0/1");
    assert.equal(at({ [`k${NUL}`]: 1 }), `/k${NUL}`);
    assert.equal(at(JSON.parse(DEEP_TEXT)), null);
  });

  it("a lone high or low surrogate is found, a pair (an emoji) is not", () => {
    assert.equal(unstorablePath({ a: "\u{1F600} ok", b: ["caf\u00e9"] }), null);
    assert.deepEqual(unstorablePath({ a: [`x${HIGH}`] }), { path: "/a/0", message: "must be valid Unicode: it holds a lone surrogate (\\ud800–\\udfff without its pair)" });
    assert.equal(unstorablePath({ [`${LOW}k`]: 1 })?.path, `/${LOW}k`);
    assert.equal(unstorablePath(`${LOW}${HIGH}`)?.path, "");
    assert.match(unstorablePath(`a${NUL}`)!.message, /NUL/);
  });
});

for (const kind of DB_KINDS) {
  describe(`[${kind}] hostile input is a 4xx in the surface's shape`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(async () => t.close());

    it("/v1/integrations: U+0000 in a body value, a config key or the query → 400 validation_failed naming the field; nothing is written", async () => {
      const tenant = await createTenant(t);
      const v1 = asKey(t, tenant);
      const cases: Array<[string, string, unknown, string]> = [
        ["POST", "/v1/integrations/stripe", { display_name: `Stripe${NUL}` }, "display_name"],
        ["POST", "/v1/integrations/stripe", { config: { [`currency${NUL}`]: "eur" } }, `config.currency${NUL}`],
        ["PUT", "/v1/integrations/postmark/credentials", { server_token: `tok${NUL}` }, "server_token"],
      ];
      for (const [method, url, body, param] of cases) {
        const res = await v1(method as "POST", url, body);
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().code, "validation_failed");
        assert.equal(res.json().param, param);
        assert.match(res.json().hint, /NUL/);
      }
      const list = await v1("GET", `/v1/integrations?starting_after=${encodeURIComponent(NUL)}`);
      assert.equal(list.statusCode, 400, list.body);
      assert.equal((await v1("GET", "/v1/integrations/stripe")).statusCode, 404);
    });

    it("/v1/integrations: a body nested 5,000 levels deep → 400, not a stack overflow", async () => {
      const tenant = await createTenant(t);
      const res = await asKey(t, tenant)("POST", "/v1/integrations/stripe", DEEP_TEXT, JSON_TYPE);
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().code, "validation_failed");
    });

    it("/connections: U+0000 in the body or the query → 422 {detail:[{loc, msg, type}]}", async () => {
      const tenant = await createTenant(t);
      const call = asConnectionsKey(t, tenant);
      const created = await call("POST", "/connections", { customer_id: `c${NUL}`, retailer_id: "01J7SC0NN73R6F5VVSP3ZKPDA3" });
      assert.equal(created.statusCode, 422, created.body);
      assert.deepEqual(created.json().detail[0].loc, ["body", "customer_id"]);
      const listed = await call("GET", `/connections?customer_id=${encodeURIComponent(NUL)}`);
      assert.equal(listed.statusCode, 422, listed.body);
      assert.deepEqual(listed.json().detail[0].loc, ["query", "customer_id"]);
      const connection = await createConnection(t, tenant);
      const token = await mintToken(t, tenant, connection.connection_id, "access");
      const patched = await call("PATCH", `/connections/${connection.connection_id}`, { email: null, mobile: null, customer_id: `x${NUL}` }, { token });
      assert.equal(patched.statusCode, 422, patched.body);
      const deep = await call("POST", `/connections/${connection.connection_id}/token`, DEEP_TEXT, { headers: JSON_TYPE });
      assert.equal(deep.statusCode, 422, deep.body);
    });

    it("/api/v3/integrations: U+0000 in shop_name → 400 JSON:API error with source.pointer; the name is unchanged", async () => {
      const tenant = await createTenant(t);
      const id = await connectShop(t, tenant, "amazon");
      const call = asBasic(t, tenant);
      const res = await call("PATCH", `/api/v3/integrations/${id}`, { shop_name: `Shop${NUL}` });
      const errors = jsonApiErrors(res.json(), 400);
      assert.equal(errors[0]!.source?.pointer, "/shop_name");
      const after = await call("GET", `/api/v3/integrations/${id}`);
      assert.equal(after.json().data.shop_name, "Amazon Seller Central");
    });

    it("/admin/v1: a lone surrogate in an entity's name → 400 validation_failed naming the field; no entity is made", async () => {
      const before = (await t.admin("GET", "/admin/v1/entities")).json().data.length;
      for (const name of [HIGH, `Acme ${LOW}`, `${LOW}${HIGH}`]) {
        const res = await t.admin("POST", "/admin/v1/entities", { name });
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().code, "validation_failed");
        assert.equal(res.json().param, "name");
        assert.match(res.json().hint, /surrogate/);
      }
      assert.equal((await t.admin("GET", "/admin/v1/entities")).json().data.length, before);
      // A surrogate pair is ordinary text: stored and returned as sent.
      const emoji = await t.admin("POST", "/admin/v1/entities", { name: "Acme \u{1F680}" });
      assert.equal(emoji.statusCode, 201, emoji.body);
      assert.equal(emoji.json().name, "Acme \u{1F680}");
    });

    it("/v1, /connections, /api/v3: a lone surrogate in a body value or key is a 4xx in the surface's shape naming the field", async () => {
      const tenant = await createTenant(t);
      const v1 = asKey(t, tenant);
      for (const [body, param] of [[{ display_name: `Stripe${HIGH}` }, "display_name"], [{ config: { [`cur${LOW}`]: "eur" } }, `config.cur${LOW}`]] as const) {
        const res = await v1("POST", "/v1/integrations/stripe", body);
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().param, param);
      }
      const hook = await v1("POST", "/v1/webhook_endpoints", { url: "https://example.com/h", events: ["*"], description: `d${HIGH}` });
      assert.equal(hook.statusCode, 400, hook.body);
      assert.equal(hook.json().param, "description");
      assert.equal((await v1("GET", "/v1/integrations/stripe")).statusCode, 404);

      const created = await asConnectionsKey(t, tenant)("POST", "/connections", { customer_id: `c${LOW}`, retailer_id: "01J7SC0NN73R6F5VVSP3ZKPDA3" });
      assert.equal(created.statusCode, 422, created.body);
      assert.deepEqual(created.json().detail[0].loc, ["body", "customer_id"]);

      const id = await connectShop(t, tenant, "amazon");
      const patched = await asBasic(t, tenant)("PATCH", `/api/v3/integrations/${id}`, { shop_name: `Shop${HIGH}` });
      assert.equal(jsonApiErrors(patched.json(), 400)[0]!.source?.pointer, "/shop_name");
      assert.equal((await asBasic(t, tenant)("GET", `/api/v3/integrations/${id}`)).json().data.shop_name, "Amazon Seller Central");
    });
  });
}
