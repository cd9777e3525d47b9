import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import { OAUTH_STATE_TTL_MS } from "../src/services/shopify-oauth.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { startFakeShopify, shopifyEnv, shopifyLibrary, signedCallback, stateOf, SHOPIFY_CLIENT_ID, type FakeShopify } from "./helpers/fake-shopify.ts";
import { addKey, asKey, assertSeedRow, createTenant } from "./helpers/fixtures.ts";
import { bearerSurface, runSecurityBattery } from "./helpers/security-battery.ts";

const CALLBACK = "/v1/integrations/shopify/oauth/callback";

for (const kind of DB_KINDS) {
  describe(`[${kind}] Shopify OAuth (Mode B)`, () => {
    let t: TestApp;
    let shopify: FakeShopify;
    before(async () => {
      shopify = await startFakeShopify();
      t = await startTestApp(kind, { env: shopifyEnv(shopify) });
    });
    after(async () => {
      await t.close();
      await shopify.close();
    });

    /** POST {shop} as a fresh tenant; returns the caller, the answer and its state. */
    async function begin(shop = "acme-store.myshopify.com", body: Record<string, unknown> = {}) {
      const tenant = await createTenant(t);
      const call = asKey(t, tenant);
      const res = await call("POST", "/v1/integrations/shopify", { shop, mode: "live", ...body });
      assert.equal(res.statusCode, 200, res.body);
      return { tenant, call, res, state: stateOf(res.json().oauth_url), shop };
    }

    const callback = (query: string, accept = "application/json") => t.request({ method: "GET", url: `${CALLBACK}?${query}`, headers: { accept } });

    /** Every value of every table as text (bytea as hex): where a token stored in the clear would show. */
    async function everyStoredValue(): Promise<string> {
      const { rows } = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`.execute(t.database.db);
      const out: string[] = [];
      for (const { table_name } of rows) {
        const data = await sql<Record<string, unknown>>`select * from ${sql.table(table_name)}`.execute(t.database.db);
        for (const row of data.rows) for (const v of Object.values(row)) out.push(v instanceof Uint8Array ? Buffer.from(v).toString("hex") : JSON.stringify(v));
      }
      return out.join("\n");
    }

    async function rowState(call: ReturnType<typeof asKey>) {
      const res = await call("GET", "/v1/integrations/shopify");
      assert.equal(res.statusCode, 200, res.body);
      return res.json().data;
    }

    describe("POST {shop, mode} answers integration_oauth_required (seed 001)", () => {
      it("answers 200 with oauth_url on the shop, the app's client_id, scopes, redirect_uri and a state; expires_at in 10 minutes", async () => {
        const before = t.clock.now().getTime();
        const { res, call } = await begin();
        const body = res.json();
        assert.deepEqual(Object.keys(body).sort(), ["expires_at", "hint", "oauth_url", "object"]);
        assert.equal(body.object, "integration_oauth_required");
        const url = new URL(body.oauth_url);
        assert.equal(url.origin, "https://acme-store.myshopify.com", "the authorize page is the real shop's, never the provider override");
        assert.equal(url.pathname, "/admin/oauth/authorize");
        assert.equal(url.searchParams.get("client_id"), SHOPIFY_CLIENT_ID);
        assert.equal(url.searchParams.get("scope"), "read_orders,write_fulfillments");
        assert.equal(url.searchParams.get("redirect_uri"), `https://patchbay.example${CALLBACK}`);
        assert.ok((url.searchParams.get("state") ?? "").length >= 32);
        const ttl = Date.parse(body.expires_at) - before;
        assert.ok(ttl > OAUTH_STATE_TTL_MS - 5000 && ttl <= OAUTH_STATE_TTL_MS + 5000, `ttl ${ttl}`);
        assert.match(body.hint, /GET \/v1\/integrations\/shopify/);

        const row = await rowState(call);
        assertSeedRow(row);
        assert.equal(row.is_active, false);
        assert.equal(row.mode, "live");
        assert.equal(row.sync_status, null);
        assert.equal(row.has_credentials_secret_arn, false);
      });

      it("a second POST reuses the pending row and retires the earlier state", async () => {
        const first = await begin();
        const again = await first.call("POST", "/v1/integrations/shopify", { shop: "acme-store.myshopify.com", display_name: "Acme shop" });
        assert.equal(again.statusCode, 200, again.body);
        const list = (await first.call("GET", "/v1/integrations")).json().data;
        assert.equal(list.length, 1);
        assert.equal(list[0].display_name, "Acme shop");
        const old = await callback(await signedCallback({ code: shopify.issueCode(first.shop), shop: first.shop, state: first.state }));
        assert.equal(old.statusCode, 400, old.body);
        assert.equal(old.json().code, "state_unknown");
      });

      it("refuses anything but a myshopify.com shop domain with 422 param shop, creating nothing", async () => {
        const call = asKey(t, await createTenant(t));
        const bad = [
          "", "acme", "acme.com", "acme.myshopify.com.evil.com", "evil.com/acme.myshopify.com", "https://acme.myshopify.com",
          "acme.myshopify.com/", "acme.myshopify.com:443", "-acme.myshopify.com", "acme-.myshopify.com", "ac me.myshopify.com",
          "acme_store.myshopify.com", ".myshopify.com", "acme..myshopify.com", "acme.shopify.com", "admin.shopify.com/store/acme",
          `${"a".repeat(64)}.myshopify.com`, "acme.myshopify.com\n", "user@acme.myshopify.com",
        ];
        for (const shop of bad) {
          const res = await call("POST", "/v1/integrations/shopify", { shop, mode: "live" });
          assert.equal(res.statusCode, 422, `${JSON.stringify(shop)}: ${res.body}`);
          assert.equal(res.json().param, "shop");
        }
        const missing = await call("POST", "/v1/integrations/shopify", { mode: "live" });
        assert.equal(missing.statusCode, 422);
        assert.equal(missing.json().param, "shop");
        assert.equal((await call("GET", "/v1/integrations/shopify")).statusCode, 404, "nothing was created");
      });

      it("accepts what Shopify accepts (checked against @shopify/shopify-api's sanitizeShop) and stores it lower-case", async () => {
        const library = shopifyLibrary();
        for (const shop of ["acme.myshopify.com", "a.myshopify.com", "acme-store-2.myshopify.com", "ACME.MyShopify.com", `${"a".repeat(63)}.myshopify.com`]) {
          // Host names are case-insensitive; Shopify's library only takes them lower-case, so that is the form it judges.
          assert.ok(library.utils.sanitizeShop(shop.toLowerCase()), `Shopify's library accepts ${shop}`);
          const call = asKey(t, await createTenant(t));
          const res = await call("POST", "/v1/integrations/shopify", { shop, mode: "live" });
          assert.equal(res.statusCode, 200, `${shop}: ${res.body}`);
          assert.equal(new URL(res.json().oauth_url).host, shop.toLowerCase());
        }
      });

      it("a test key may start only a sandbox authorization", async () => {
        const owner = await createTenant(t);
        const testKey = asKey(t, await addKey(t, owner.entityId, { mode: "test" }));
        const live = await testKey("POST", "/v1/integrations/shopify", { shop: "acme.myshopify.com", mode: "live" });
        assert.equal(live.statusCode, 403);
        assert.equal(live.json().code, "live_mode_forbidden");
        assert.equal((await testKey("POST", "/v1/integrations/shopify", { shop: "acme.myshopify.com" })).statusCode, 200);
      });

      it("a pending connector cannot be switched on by PATCH before the merchant approves", async () => {
        const { call } = await begin();
        const res = await call("PATCH", "/v1/integrations/shopify", { is_active: true });
        assert.equal(res.statusCode, 409);
        assert.equal(res.json().code, "oauth_incomplete");
        assert.equal((await rowState(call)).is_active, false);
      });
    });

    describe("the callback completes the connection: POST → callback → GET is_active:true", () => {
      it("exchanges the code with expiring=1, seals the tokens, activates the row and emits connector.connected", async () => {
        const { call, state, shop } = await begin();
        const code = shopify.issueCode(shop);
        const res = await callback(await signedCallback({ code, shop, state, host: "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYWNtZS1zdG9yZQ" }));
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.headers.location, undefined);
        assert.equal(res.headers["cache-control"], "no-store");
        assert.equal(res.json().data.is_active, true);

        const exchange = shopify.tokenCalls().at(-1)!;
        const sent = JSON.parse(exchange.body);
        assert.deepEqual(sent, { client_id: SHOPIFY_CLIENT_ID, client_secret: sent.client_secret, code, expiring: "1" });

        const row = await rowState(call);
        assert.equal(row.is_active, true);
        assert.equal(row.sync_status, "connected");
        assert.equal(row.sync_error, null);
        assert.ok(row.last_sync_at);
        assert.equal(row.has_credentials_secret_arn, true, "the tokens are the connector's sealed credentials");
        assert.deepEqual(row.credentials_masked, ["access_token", "refresh_token"]);

        const events = await t.database.db.selectFrom("events").selectAll().where("entity_id", "=", row.entity_id).execute();
        assert.deepEqual(events.map((e) => e.type), ["connector.connected"]);
        const record = await t.database.db.selectFrom("connectors").select("shop_url").where("id", "=", row.id).executeTakeFirstOrThrow();
        assert.equal(record.shop_url, `https://${shop}`, "the shop integration's shop_url is the shop");
        const grant = await t.database.db.selectFrom("shopify_grants").selectAll().where("connector_id", "=", row.id).executeTakeFirstOrThrow();
        assert.equal(grant.shop, shop);
        assert.equal(grant.status, "active");
        assert.ok(grant.access_expires_at && grant.refresh_expires_at);

        const { access, refresh } = shopify.issued.at(-1)!;
        const stored = await everyStoredValue();
        for (const secret of [access, refresh!, code]) {
          assert.ok(!t.responses.join("\n").includes(secret), "a token or code reached a response");
          assert.ok(!t.logs.join("\n").includes(secret), "a token or code reached a log line");
          assert.ok(!stored.includes(secret) && !stored.includes(Buffer.from(secret).toString("hex")), "a token or code is stored in the clear");
        }
        assert.ok(stored.includes(shop), "the scan sees stored values");
      });

      it("a browser gets an HTML page saying so", async () => {
        const { state, shop } = await begin();
        const res = await callback(await signedCallback({ code: shopify.issueCode(shop), shop, state }), "text/html,application/xhtml+xml");
        assert.equal(res.statusCode, 200, res.body);
        assert.match(String(res.headers["content-type"]), /^text\/html/);
        assert.match(res.body, /Shopify is connected/);
      });
    });

    describe("every forged, stale or replayed callback is refused and the row is left as it was", () => {
      /** Runs a bad callback against a fresh pending row; checks 4xx, the code, no redirect, and an untouched row. */
      async function refused(make: (ctx: { state: string; shop: string; code: string }) => Promise<string>, status: number, code: string, opts: { shop?: string; advanceMs?: number } = {}) {
        const ctx = await begin(opts.shop);
        const rowBefore = await t.database.db.selectFrom("connectors").selectAll().where("entity_id", "=", ctx.tenant.entityId).executeTakeFirstOrThrow();
        const calls = shopify.tokenCalls().length;
        if (opts.advanceMs) t.clock.advance(opts.advanceMs);
        const query = await make({ state: ctx.state, shop: ctx.shop, code: shopify.issueCode(ctx.shop) });
        for (const accept of ["application/json", "text/html"]) {
          const res = await callback(query, accept);
          assert.equal(res.statusCode, status, `${code} (${accept}): ${res.body}`);
          assert.equal(res.headers.location, undefined, "no redirect");
          if (accept === "application/json") assert.equal(res.json().code, code);
          else assert.match(res.body, new RegExp(`<code>${code}</code>`));
        }
        const rowAfter = await t.database.db.selectFrom("connectors").selectAll().where("id", "=", rowBefore.id).executeTakeFirstOrThrow();
        assert.deepEqual(rowAfter, rowBefore, "the row was touched");
        assert.equal(shopify.tokenCalls().length, calls, "Shopify was asked for a token");
        assert.equal(await t.database.db.selectFrom("shopify_grants").select("connector_id").where("connector_id", "=", rowBefore.id).executeTakeFirst(), undefined);
        return ctx;
      }

      it("bad hmac: signed with another secret → 403 hmac_invalid", async () => {
        await refused(({ state, shop, code }) => signedCallback({ code, shop, state }, "not-the-app-secret"), 403, "hmac_invalid");
      });

      it("bad hmac: a parameter changed after signing → 403 hmac_invalid", async () => {
        await refused(async ({ state, shop, code }) => (await signedCallback({ code, shop, state })).replace(/code=[0-9a-f]+/, "code=0000"), 403, "hmac_invalid");
      });

      it("bad hmac: missing, malformed or sent twice → 4xx", async () => {
        await refused(async ({ state, shop, code }) => (await signedCallback({ code, shop, state })).replace(/&?hmac=[0-9a-f]+/, ""), 400, "oauth_callback_invalid");
        await refused(async ({ state, shop, code }) => (await signedCallback({ code, shop, state })).replace(/hmac=[0-9a-f]+/, "hmac=zz"), 403, "hmac_invalid");
        await refused(async ({ state, shop, code }) => {
          const q = await signedCallback({ code, shop, state });
          return `${q}&hmac=${new URLSearchParams(q).get("hmac")}`;
        }, 400, "oauth_callback_invalid");
      });

      it("unknown state → 400 state_unknown", async () => {
        await refused(({ shop, code }) => signedCallback({ code, shop, state: "x".repeat(43) }), 400, "state_unknown");
      });

      it("expired state (after 10 minutes) → 400 state_expired", async () => {
        await refused(({ state, shop, code }) => signedCallback({ code, shop, state }), 400, "state_expired", { advanceMs: OAUTH_STATE_TTL_MS + 1000 });
      });

      it("a callback for another shop than the state's → 403 shop_mismatch", async () => {
        await refused(({ state, code }) => signedCallback({ code, shop: "other-store.myshopify.com", state }), 403, "shop_mismatch");
      });

      it("a shop that is not a Shopify domain, even correctly signed → 400 shop_invalid", async () => {
        await refused(({ state, code }) => signedCallback({ code, shop: "evil.example.com", state }), 400, "shop_invalid");
      });

      it("replay of a completed callback → 409 state_used; the code is not exchanged again", async () => {
        const { call, state, shop } = await begin();
        const query = await signedCallback({ code: shopify.issueCode(shop), shop, state });
        assert.equal((await callback(query)).statusCode, 200);
        const calls = shopify.tokenCalls().length;
        const rowBefore = await rowState(call);
        const replay = await callback(query);
        assert.equal(replay.statusCode, 409, replay.body);
        assert.equal(replay.json().code, "state_used");
        assert.equal(shopify.tokenCalls().length, calls);
        assert.deepEqual(await rowState(call), rowBefore);
      });

      it("two simultaneous callbacks with one state: one completes, the other is refused", async () => {
        const { state, shop } = await begin();
        const query = await signedCallback({ code: shopify.issueCode(shop), shop, state });
        const [a, b] = await Promise.all([callback(query), callback(query)]);
        assert.deepEqual([a.statusCode, b.statusCode].sort(), [200, 409]);
      });

      it("a code Shopify refuses → 400 oauth_code_rejected, row untouched", async () => {
        const { call, state, shop } = await begin();
        const rowBefore = await rowState(call);
        const res = await callback(await signedCallback({ code: "never-issued", shop, state }));
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().code, "oauth_code_rejected");
        assert.deepEqual(await rowState(call), rowBefore);
      });

      it("a callback for a connector disconnected meanwhile → 409 connector_changed", async () => {
        const { call, state, shop } = await begin();
        assert.equal((await call("DELETE", "/v1/integrations/shopify")).statusCode, 200);
        const res = await callback(await signedCallback({ code: shopify.issueCode(shop), shop, state }));
        assert.equal(res.statusCode, 409, res.body);
        assert.equal(res.json().code, "connector_changed");
        assert.equal((await rowState(call)).is_active, false);
      });
    });
  });

  describe(`[${kind}] Shopify OAuth: security battery`, () => {
    let t: TestApp;
    let shopify: FakeShopify;
    before(async () => {
      shopify = await startFakeShopify();
      t = await startTestApp(kind, { env: shopifyEnv(shopify) });
    });
    after(async () => {
      await t.close();
      await shopify.close();
    });
    runSecurityBattery("POST /v1/integrations/shopify", () => t, {
      method: "POST",
      scope: "integrations:write",
      url: () => "/v1/integrations/shopify",
      payload: { shop: "acme.myshopify.com", mode: "sandbox" },
      surface: bearerSurface,
    });
    const connected = async (tt: TestApp, owner: { key: string }, mode = "sandbox") => {
      const start = await asKey(tt, owner)("POST", "/v1/integrations/shopify", { shop: "battery.myshopify.com", mode });
      assert.equal(start.statusCode, 200, start.body);
      return { state: stateOf(start.json().oauth_url) };
    };
    runSecurityBattery("POST /v1/integrations/shopify/verify", () => t, {
      method: "POST",
      scope: "integrations:write",
      url: () => "/v1/integrations/shopify/verify",
      setup: connected,
      setupLive: (a, o) => connected(a, o, "live"),
      surface: bearerSurface,
    });
  });

  describe(`[${kind}] Shopify OAuth without app credentials`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(async () => t.close());

    it("POST answers 501 naming SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET, and creates nothing", async () => {
      const call = asKey(t, await createTenant(t));
      const res = await call("POST", "/v1/integrations/shopify", { shop: "acme.myshopify.com", mode: "live" });
      assert.equal(res.statusCode, 501, res.body);
      assert.equal(res.json().code, "shopify_not_configured");
      assert.match(res.json().hint, /SHOPIFY_CLIENT_ID/);
      assert.match(res.json().hint, /SHOPIFY_CLIENT_SECRET/);
      assert.equal((await call("GET", "/v1/integrations/shopify")).statusCode, 404);
    });

    it("the callback answers 501 too", async () => {
      const res = await t.request({ method: "GET", url: `${CALLBACK}?code=a&shop=acme.myshopify.com&state=b&hmac=${"0".repeat(64)}` });
      assert.equal(res.statusCode, 501);
      assert.equal(res.json().code, "shopify_not_configured");
    });
  });
}
