import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openDatabase } from "../src/db/index.ts";
import { createServices } from "../src/compose.ts";
import { REFRESH_AHEAD_MS } from "../src/services/shopify-grants.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { connectShopify, shopifyEnv, signedCallback, startFakeShopify, stateOf, type FakeShopify } from "./helpers/fake-shopify.ts";

const HOUR = 3_600_000;

for (const kind of DB_KINDS) {
  describe(`[${kind}] Shopify token refresh`, () => {
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

    const grantOf = (connectorId: string) => t.database.db.selectFrom("shopify_grants").selectAll().where("connector_id", "=", connectorId).executeTakeFirstOrThrow();
    const usesOf = (refreshToken: string) => shopify.refreshUses.get(refreshToken) ?? 0;
    const eventsOf = async (entityId: string, type: string) =>
      (await t.database.db.selectFrom("events").select("type").where("entity_id", "=", entityId).where("type", "=", type as never).execute()).length;

    describe("the refresh job refreshes tokens before they expire and keeps the rotated refresh token", () => {
      it("nothing is refreshed while the access token has more than 10 minutes left", async () => {
        const { row, tokens } = await connectShopify(t, shopify);
        t.clock.advance(HOUR - REFRESH_AHEAD_MS - 60_000);
        await t.services.jobs.runDueJobs();
        assert.equal(usesOf(tokens.refresh!), 0);
        assert.equal((await grantOf(row.id)).generation, 0);
      });

      it("within 10 minutes of expiry: grant_type=refresh_token with the stored refresh token; the next refresh uses the rotated one", async () => {
        const { row, tokens } = await connectShopify(t, shopify);
        const first = await grantOf(row.id);
        t.clock.advance(HOUR - REFRESH_AHEAD_MS + 60_000);
        await t.services.jobs.runDueJobs();
        assert.equal(shopify.refreshUses.get(tokens.refresh!), 1, "grant_type=refresh_token with the stored refresh token");
        const second = await grantOf(row.id);
        assert.equal(second.generation, 1);
        assert.ok(second.access_expires_at!.getTime() > first.access_expires_at!.getTime());
        assert.equal(second.refresh_lease_id, null);
        const rotated = shopify.rotations.get(tokens.refresh!)!;

        t.clock.advance(HOUR);
        await t.services.jobs.runDueJobs();
        assert.equal(shopify.refreshUses.get(rotated.refresh!), 1, "the rotated refresh token was stored and used");
        assert.equal((await grantOf(row.id)).generation, 2);
        for (const secret of [tokens.access, tokens.refresh!, rotated.access, rotated.refresh!]) {
          assert.ok(!t.logs.join("\n").includes(secret), "a token reached a log line");
        }
        assert.deepEqual(await t.services.jobs.failedJobs(), []);
      });

      it("a Shopify outage fails the attempt (retried later); the connector is unchanged and the next attempt succeeds", async () => {
        const { row, call } = await connectShopify(t, shopify);
        const before = (await call("GET", "/v1/integrations/shopify")).json().data;
        t.clock.advance(HOUR - REFRESH_AHEAD_MS + 60_000);
        shopify.setDown(true);
        try {
          const summary = await t.services.jobs.runDueJobs();
          assert.ok(summary.retried >= 1, JSON.stringify(summary));
        } finally {
          shopify.setDown(false);
        }
        const during = (await call("GET", "/v1/integrations/shopify")).json().data;
        assert.equal(during.sync_status, before.sync_status);
        assert.equal((await grantOf(row.id)).refresh_lease_id, null, "the claim was released for the retry");
        t.clock.advance(5_000);
        await t.services.jobs.runDueJobs();
        assert.equal((await grantOf(row.id)).generation, 1);
      });
    });

    describe("two concurrent refreshers spend a refresh token once", () => {
      it("racing refreshes of one grant: exactly one calls Shopify, the other stands down (5 rounds)", async () => {
        const { row, tokens } = await connectShopify(t, shopify);
        let previous = tokens.refresh!;
        // A second, independent service layer: on PostgreSQL its own connection pool, as another process would have.
        const other =
          kind === "postgres"
            ? await openDatabase({ kind: "postgres", url: t.database.url!, poolSize: 4 })
            : null;
        const b = other ? createServices({ db: other.db, clock: t.clock, config: t.config }) : t.services;
        shopify.setTokenDelay(150);
        try {
          for (let round = 1; round <= 5; round++) {
            t.clock.advance(HOUR);
            const grant = await grantOf(row.id);
            const refreshToken = round === 1 ? tokens.refresh! : shopify.rotations.get(previous)!.refresh!;
            previous = refreshToken;
            const uses = shopify.refreshUses.get(refreshToken) ?? 0;
            const outcomes = await Promise.all([t.services.shopifyGrants.refreshGrant(row.id), b.shopifyGrants.refreshGrant(row.id)]);
            assert.deepEqual(outcomes.map((o) => o.outcome).sort(), ["refreshed", "skipped"], `round ${round}`);
            assert.equal(shopify.refreshUses.get(refreshToken), uses + 1, `round ${round}: the refresh token was spent ${shopify.refreshUses.get(refreshToken)} times`);
            assert.equal((await grantOf(row.id)).generation, grant.generation + 1);
          }
        } finally {
          shopify.setTokenDelay(0);
          await other?.close();
        }
      });

      it("after a refresh the grant is not due again until its new access token nears expiry", async () => {
        const { row, tokens } = await connectShopify(t, shopify);
        t.clock.advance(HOUR);
        assert.equal((await t.services.shopifyGrants.refreshGrant(row.id)).outcome, "refreshed");
        assert.equal((await t.services.shopifyGrants.dueForRefresh(1000)).includes(row.id), false);
        await t.services.jobs.runDueJobs();
        assert.equal(shopify.refreshUses.get(shopify.rotations.get(tokens.refresh!)!.refresh!), undefined, "the fresh grant was not refreshed again");
        assert.equal((await grantOf(row.id)).generation, 1);
      });
    });

    describe("a refresh Shopify refuses: auth_failed, the row kept, connector.auth_failed emitted", () => {
      it("records sync_status auth_failed and sync_error, keeps the row, emits one event, stops refreshing; a re-POST re-authorizes", async () => {
        const { row, call, shop, tokens } = await connectShopify(t, shopify, "refused-store.myshopify.com");
        shopify.refuseRefreshes();
        try {
          t.clock.advance(HOUR);
          await t.services.jobs.runDueJobs();
        } finally {
          shopify.refuseRefreshes(false);
        }
        const got = await call("GET", "/v1/integrations/shopify");
        assert.equal(got.statusCode, 200, "the row is kept");
        const data = got.json().data;
        assert.equal(data.sync_status, "auth_failed");
        assert.match(data.sync_error, /Shopify refused the token refresh \(HTTP 400\)/);
        assert.equal(data.is_active, true);
        assert.equal(await eventsOf(row.entity_id, "connector.auth_failed"), 1);
        const event = await t.database.db.selectFrom("events").selectAll().where("entity_id", "=", row.entity_id).where("type", "=", "connector.auth_failed").executeTakeFirstOrThrow();
        assert.equal((event.data as { id: string }).id, row.id);
        assert.equal((await grantOf(row.id)).status, "reauth_required");

        assert.equal(usesOf(tokens.refresh!), 1);
        t.clock.advance(HOUR);
        await t.services.jobs.runDueJobs();
        assert.equal(usesOf(tokens.refresh!), 1, "no refresh of a refused grant");
        assert.ok(!(await t.services.health.dueForCheck(10_000)).includes(row.id), "no health check of a refused grant either");
        assert.equal(await eventsOf(row.entity_id, "connector.auth_failed"), 1);

        const again = await call("POST", "/v1/integrations/shopify", { shop, mode: "live" });
        assert.equal(again.statusCode, 200, again.body);
        assert.equal(again.json().object, "integration_oauth_required");
      });
    });
  });

  describe(`[${kind}] Shopify: restore, verify`, () => {
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

    it("a re-POST within 7 days of DELETE restores the connector with its sealed tokens (200 row, no OAuth)", async () => {
      const { call, shop } = await connectShopify(t, shopify);
      assert.equal((await call("DELETE", "/v1/integrations/shopify")).statusCode, 200);
      t.clock.advanceDays(6);
      const res = await call("POST", "/v1/integrations/shopify", { shop, mode: "live" });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().is_active, true);
      assert.equal(res.json().object, undefined);
      const verify = await call("POST", "/v1/integrations/shopify/verify");
      assert.equal(verify.statusCode, 200, verify.body);
      assert.equal(verify.json().data.sync_status, "ok", "the restored tokens work (refreshed first: the access token expired meanwhile)");
    });

    it("a re-POST for another shop within the window starts a new authorization", async () => {
      const { call } = await connectShopify(t, shopify);
      await call("DELETE", "/v1/integrations/shopify");
      const res = await call("POST", "/v1/integrations/shopify", { shop: "another-store.myshopify.com", mode: "live" });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().object, "integration_oauth_required");
      const done = await t.request({
        method: "GET",
        url: `/v1/integrations/shopify/oauth/callback?${await signedCallback({ code: shopify.issueCode("another-store.myshopify.com"), shop: "another-store.myshopify.com", state: stateOf(res.json().oauth_url) })}`,
      });
      assert.equal(done.statusCode, 200, done.body);
    });

    it("POST /v1/integrations/shopify/verify checks the token at GET /admin/oauth/access_scopes.json", async () => {
      const { call, tokens } = await connectShopify(t, shopify);
      const res = await call("POST", "/v1/integrations/shopify/verify");
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().data.sync_status, "ok");
      const check = shopify.requests.filter((r) => r.path === "/admin/oauth/access_scopes.json").at(-1)!;
      assert.equal(check.headers["x-shopify-access-token"], tokens.access);
    });

    it("a pending (unauthorized) Shopify connector has nothing to verify → 409", async () => {
      const { call } = await connectShopify(t, shopify);
      await call("DELETE", "/v1/integrations/shopify");
      t.clock.advanceDays(8);
      await call("POST", "/v1/integrations/shopify", { shop: "fresh-store.myshopify.com", mode: "live" });
      const res = await call("POST", "/v1/integrations/shopify/verify");
      assert.equal(res.statusCode, 409, res.body);
      assert.equal(res.json().code, "no_credentials");
    });
  });
}
