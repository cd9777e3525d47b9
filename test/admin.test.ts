import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { buildApp } from "../src/app.ts";
import { createServices } from "../src/compose.ts";
import { ADMIN_TOKEN, startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { asKey, createTenant } from "./helpers/fixtures.ts";

for (const kind of DB_KINDS) {
  describe(`[${kind}] /admin/v1`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(async () => t.close());

    describe("the admin token guards every admin route", () => {
      it("no token → 401 missing_admin_token; a wrong one → 401 invalid_admin_token", async () => {
        for (const [headers, code] of [
          [{}, "missing_admin_token"],
          [{ authorization: "Bearer wrong-token-wrong-token-wrong" }, "invalid_admin_token"],
          [{ authorization: "Basic abc" }, "missing_admin_token"],
        ] as const) {
          const res = await t.request({ method: "GET", url: "/admin/v1/entities", headers });
          assert.equal(res.statusCode, 401, res.body);
          assert.equal(res.json().code, code);
          assert.equal(res.json().type, "permission_error");
        }
      });

      it("an entity API key is not an admin token", async () => {
        const tenant = await createTenant(t);
        const res = await t.request({ method: "GET", url: "/admin/v1/entities", headers: { authorization: `Bearer ${tenant.key}` } });
        assert.equal(res.statusCode, 401);
      });
    });

    describe("entities", () => {
      it("POST creates {id, name, created_at} (201); GET lists it", async () => {
        const res = await t.admin("POST", "/admin/v1/entities", { name: "Acme Inc" });
        assert.equal(res.statusCode, 201);
        const e = res.json();
        assert.deepEqual(Object.keys(e).sort(), ["created_at", "id", "name"]);
        assert.equal(e.name, "Acme Inc");
        const list = (await t.admin("GET", "/admin/v1/entities")).json();
        assert.ok(list.data.some((x: { id: string }) => x.id === e.id));
      });

      it("a missing or empty name, or an unknown field → 400 naming it", async () => {
        for (const [body, param] of [[{}, "name"], [{ name: "" }, "name"], [{ name: "x", plan: "gold" }, "plan"]] as const) {
          const res = await t.admin("POST", "/admin/v1/entities", body);
          assert.equal(res.statusCode, 400, res.body);
          assert.equal(res.json().param, param);
        }
      });
    });

    describe("API keys", () => {
      it("creates live and test keys: the secret is shown once, stored only as a hash", async () => {
        const entity = (await t.admin("POST", "/admin/v1/entities", { name: "Keys Inc" })).json();
        for (const mode of ["live", "test"] as const) {
          const res = await t.admin("POST", `/admin/v1/entities/${entity.id}/api-keys`, { name: "erp", mode, scopes: ["integrations:read"] });
          assert.equal(res.statusCode, 201, res.body);
          const k = res.json();
          assert.match(k.key, new RegExp(`^ark_${mode}_ent_[0-9A-Za-z]{40}$`));
          assert.match(k.public_key, new RegExp(`^pk_${mode}_`));
          assert.deepEqual(k.scopes, ["integrations:read"]);
          assert.equal(k.mode, mode);
          assert.equal(res.headers["cache-control"], "no-store");

          const listed = (await t.admin("GET", `/admin/v1/entities/${entity.id}/api-keys`)).json().data;
          const row = listed.find((x: { id: string }) => x.id === k.id);
          assert.equal(row.key, undefined, "a list never shows the secret");
          assert.ok(!JSON.stringify(listed).includes(k.key));
          assert.equal(row.key_prefix, k.key.slice(0, 17));

          const stored = await t.database.db.selectFrom("api_keys").selectAll().where("id", "=", k.id).executeTakeFirstOrThrow();
          assert.ok(!JSON.stringify(stored).includes(k.key.slice(17)), "the secret part is not stored");
          assert.equal(stored.key_hash.length, 32);
        }
      });

      it("an unknown scope → 400 with the vocabulary in the hint", async () => {
        const entity = (await t.admin("POST", "/admin/v1/entities", { name: "Scopes Inc" })).json();
        const res = await t.admin("POST", `/admin/v1/entities/${entity.id}/api-keys`, { name: "x", mode: "live", scopes: ["orders:read"] });
        assert.equal(res.statusCode, 400);
        assert.equal(res.json().param, "scopes");
        assert.match(res.json().hint, /orders:read/);
        assert.match(res.json().hint, /integrations:read/);
      });

      it("a bad mode, no scopes, or an unknown entity → 4xx", async () => {
        const entity = (await t.admin("POST", "/admin/v1/entities", { name: "Bad Inc" })).json();
        assert.equal((await t.admin("POST", `/admin/v1/entities/${entity.id}/api-keys`, { name: "x", mode: "prod", scopes: ["integrations:read"] })).statusCode, 400);
        assert.equal((await t.admin("POST", `/admin/v1/entities/${entity.id}/api-keys`, { name: "x", mode: "live", scopes: [] })).statusCode, 400);
        const missing = await t.admin("POST", `/admin/v1/entities/01a20794-0000-7000-8000-000000000000/api-keys`, { name: "x", mode: "live", scopes: ["integrations:read"] });
        assert.equal(missing.statusCode, 404);
        assert.equal((await t.admin("POST", `/admin/v1/entities/not-a-uuid/api-keys`, { name: "x", mode: "live", scopes: ["integrations:read"] })).statusCode, 400);
      });

      it("a revoked key is refused at once, also by another server process on the same database", async () => {
        const tenant = await createTenant(t);
        // A second, independent app (its own pool / session) on the same database stands in for another process.
        const services = createServices({ db: t.database.db, clock: t.clock, config: t.config });
        const other = await buildApp({ config: { ...t.config, logLevel: "silent" }, db: t.database.db, services, adminToken: ADMIN_TOKEN });
        const viaOther = () => other.inject({ method: "GET", url: "/v1/integrations", headers: { authorization: `Bearer ${tenant.key}` } });
        assert.equal((await viaOther()).statusCode, 200);
        assert.equal((await asKey(t, tenant)("GET", "/v1/integrations")).statusCode, 200);

        const revoked = await t.admin("DELETE", `/admin/v1/api-keys/${tenant.keyId}`);
        assert.equal(revoked.statusCode, 200);
        assert.notEqual(revoked.json().data.revoked_at, null);

        assert.equal((await asKey(t, tenant)("GET", "/v1/integrations")).statusCode, 401);
        assert.equal((await viaOther()).statusCode, 401);
        await other.close();
      });

      it("revoking an unknown key → 404", async () => {
        assert.equal((await t.admin("DELETE", "/admin/v1/api-keys/01a20794-0000-7000-8000-000000000000")).statusCode, 404);
      });
    });
  });
}
