import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DEMO_LOGINS, DEMO_PASSWORD, demoPurchasesSince, startDemoRetailerGateway } from "../src/demo/retailer-gateway.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { ManualClock } from "./helpers/clock.ts";
import { asConnectionsKey, assertDetailString, connectionsSurface, mintToken, TARGET, ULID_RE, WALMART } from "./helpers/connections.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { createTenant, type Tenant } from "./helpers/fixtures.ts";
import { openLinkPage, submitLinkForm } from "./helpers/link-page.ts";
import { runSecurityBattery } from "./helpers/security-battery.ts";

/** The pattern the reference gives every amount (GetPurchaseResponse.total, tax, subtotal). */
const DECIMAL_RE = /^(?!^[-+.]*$)[+-]?0*\d*\.?\d*$/;
const cents = (s: string) => Math.round(Number(s) * 100);

for (const kind of DB_KINDS) {
  describe(`[${kind}] purchases`, () => {
    let t: TestApp;
    let gateway: Awaited<ReturnType<typeof startDemoRetailerGateway>>;
    const clock = new ManualClock("2025-06-01T12:00:00Z");
    before(async () => {
      gateway = await startDemoRetailerGateway({ port: 0, now: () => new Date(clock.now().getTime()) });
      t = await startTestApp(kind, { clock, env: { PATCHBAY_PROVIDER_URL_RETAILERS: gateway.url } });
    });
    after(async () => {
      await t.close();
      await gateway.close();
    });

    /** A connection linked through the hosted page with this login, its first sync run; returns its id and an access token. */
    async function linked(tenant: Tenant, username: string = DEMO_LOGINS.good, retailer = "walmart") {
      const res = await asConnectionsKey(t, tenant)("POST", "/connections", { customer_id: "cust-1", retailer_id: retailer });
      assert.equal(res.statusCode, 201, res.body);
      const id = res.json().connection_id as string;
      const page = await openLinkPage(t, await mintToken(t, tenant, id, "link"));
      assert.equal(page.res.statusCode, 200, page.res.body);
      const done = await submitLinkForm(t, page, { username, password: DEMO_PASSWORD });
      assert.equal(done.statusCode, 200, done.body);
      await t.services.jobs.runDueJobs();
      return { id, access: await mintToken(t, tenant, id, "access") };
    }

    const eventsOf = (type: string, connectionId: string) =>
      t.database.db
        .selectFrom("events")
        .select(["type", "data"])
        .where("type", "=", type)
        .where((eb) => eb.or([eb(eb.ref("data", "->>").key("connection_id" as never), "=", connectionId), eb(eb.ref("data", "->").key("connection" as never), "@>", JSON.stringify({ connection_id: connectionId }) as never)]))
        .orderBy("id")
        .execute();

    async function allPurchases(tenant: Tenant, access: string) {
      const seen: Array<{ purchase_id: string; date: string; total: string }> = [];
      let after: string | undefined;
      for (;;) {
        const res = await asConnectionsKey(t, tenant)("GET", `/purchases?limit=7${after ? `&starting_after=${after}` : ""}`, undefined, { token: access });
        assert.equal(res.statusCode, 200, res.body);
        const body = res.json() as { has_more: boolean; purchases: typeof seen };
        seen.push(...body.purchases);
        if (!body.has_more) return seen;
        after = body.purchases.at(-1)!.purchase_id;
      }
    }

    describe("the sync pulls the gateway's purchase history right after linking", () => {
      it("stores every purchase once, emits purchase.created for each, and GET /purchases pages through them newest first", async () => {
        const tenant = await createTenant(t);
        const { id, access } = await linked(tenant);
        const expected = demoPurchasesSince("walmart", DEMO_LOGINS.good, null, 1000, clock.now()).purchases;
        assert.equal(expected.length, 30);

        const first = await asConnectionsKey(t, tenant)("GET", "/purchases", undefined, { token: access });
        assert.equal(first.statusCode, 200, first.body);
        const body = first.json();
        assert.deepEqual(Object.keys(body).sort(), ["has_more", "purchases"]);
        assert.equal(body.has_more, true);
        assert.equal(body.purchases.length, 10, "limit defaults to 10");

        const all = await allPurchases(tenant, access);
        assert.equal(all.length, 30);
        assert.equal(new Set(all.map((p) => p.purchase_id)).size, 30);
        for (const p of all) {
          assert.deepEqual(Object.keys(p).sort(), ["date", "purchase_id", "total"]);
          assert.match(p.purchase_id, ULID_RE);
          assert.match(p.total, DECIMAL_RE);
        }
        const dates = all.map((p) => p.date);
        assert.deepEqual(dates, [...dates].sort().reverse(), "descending by purchase date");
        assert.deepEqual(dates, expected.map((p) => p.date).reverse());
        assert.deepEqual(all.map((p) => p.total), expected.map((p) => p.total).reverse());

        const events = await eventsOf("purchase.created", id);
        assert.equal(events.length, 30);
        const ev = events[0]!.data as { connection: { connection_id: string; status: string }; purchase: { purchase_id: string } };
        assert.equal(ev.connection.connection_id, id);
        assert.equal(ev.connection.status, "active");
        const detail = await asConnectionsKey(t, tenant)("GET", `/purchases/${ev.purchase.purchase_id}`, undefined, { token: access });
        assert.deepEqual(ev.purchase, detail.json(), "the event carries the purchase as GET /purchases/{id} shows it");
      });

      it("a later sync adds only the new purchases (and their events), resuming from the stored cursor", async () => {
        const tenant = await createTenant(t);
        const { id } = await linked(tenant);
        clock.advanceDays(7);
        const access = await mintToken(t, tenant, id, "access");
        const summary = await t.services.purchaseSync.syncConnection(id, { logger: { info() {}, warn() {} } });
        assert.equal(summary.outcome, "synced");
        assert.ok(summary.created >= 2 && summary.created <= 3, String(summary.created));
        const all = await allPurchases(tenant, access);
        assert.equal(all.length, 30 + summary.created);
        assert.equal((await eventsOf("purchase.created", id)).length, 30 + summary.created);
        const again = await t.services.purchaseSync.syncConnection(id, { logger: { info() {}, warn() {} } });
        assert.deepEqual(again, { outcome: "synced", created: 0, pages: 1 });
      });

      it("the recurring scheduler queues due connections: nothing before the interval, a sync after it", async () => {
        const tenant = await createTenant(t);
        const { id } = await linked(tenant);
        const row = () => t.database.db.selectFrom("connections").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
        const synced = (await row()).last_synced_at!;
        clock.advance(30 * 60_000);
        await t.services.jobs.runDueJobs();
        assert.equal((await row()).last_synced_at!.getTime(), synced.getTime(), "not due within PATCHBAY_PURCHASE_SYNC_MINUTES (60)");
        clock.advance(31 * 60_000);
        await t.services.jobs.runDueJobs();
        assert.ok((await row()).last_synced_at!.getTime() > synced.getTime(), "synced again once due");
      });
    });

    describe("GET /purchases/{purchase_id} answers the reference's GetPurchaseResponse, field by field", () => {
      it("every field, decimal-string amounts that add up, items with their product", async () => {
        const tenant = await createTenant(t);
        const { access } = await linked(tenant);
        const [latest] = (await asConnectionsKey(t, tenant)("GET", "/purchases?limit=1", undefined, { token: access })).json().purchases;
        const res = await asConnectionsKey(t, tenant)("GET", `/purchases/${latest.purchase_id}`, undefined, { token: access });
        assert.equal(res.statusCode, 200, res.body);
        const p = res.json();
        assert.deepEqual(Object.keys(p).sort(), ["date", "item_count", "items", "purchase_id", "subtotal", "tax", "total"]);
        assert.equal(p.purchase_id, latest.purchase_id);
        assert.match(p.date, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/, 'as the reference writes it: "2024-01-01T00:00:00Z"');
        for (const f of ["total", "tax", "subtotal"]) assert.ok(typeof p[f] === "string" && DECIMAL_RE.test(p[f]), `${f}: ${p[f]}`);
        assert.equal(cents(p.total), cents(p.subtotal) + cents(p.tax));
        assert.equal(p.item_count, p.items.length);
        assert.ok(p.items.length >= 1);
        let sum = 0;
        for (const item of p.items) {
          assert.deepEqual(Object.keys(item).sort(), ["item_id", "price", "product", "quantity"]);
          assert.match(item.item_id, ULID_RE);
          assert.match(item.price, DECIMAL_RE);
          assert.match(item.quantity, DECIMAL_RE);
          assert.deepEqual(Object.keys(item.product).sort(), ["brand", "description", "name", "product_id", "upc"]);
          assert.match(item.product.upc, /^\d{12}$/);
          sum += cents(item.price);
        }
        assert.equal(sum, cents(p.subtotal));
        const source = demoPurchasesSince("walmart", DEMO_LOGINS.good, null, 1000, clock.now()).purchases.find((g) => g.date === p.date)!;
        assert.deepEqual({ total: p.total, tax: p.tax, subtotal: p.subtotal }, { total: source.total, tax: source.tax, subtotal: source.subtotal });
        assert.deepEqual(p.items.map((i: { product: unknown }) => i.product), source.items.map((i) => i.product));
      });

      it("a purchase of another connection, or no such purchase, is 404 {detail}", async () => {
        const tenant = await createTenant(t);
        const a = await linked(tenant);
        const b = await linked(tenant);
        const [ofB] = (await asConnectionsKey(t, tenant)("GET", "/purchases?limit=1", undefined, { token: b.access })).json().purchases;
        const res = await asConnectionsKey(t, tenant)("GET", `/purchases/${ofB.purchase_id}`, undefined, { token: a.access });
        assert.equal(res.statusCode, 404, res.body);
        assert.match(assertDetailString(res.json()), /No purchase with id/);
        const none = await asConnectionsKey(t, tenant)("GET", "/purchases/01J51S0JYV6N7K1030CV1ZKSCF", undefined, { token: a.access });
        assert.equal(none.statusCode, 404);
      });
    });

    describe("GET /purchases validates limit and starting_after (422 {detail:[…]})", () => {
      for (const [query, loc] of [
        ["limit=0", "limit"],
        ["limit=51", "limit"],
        ["limit=ten", "limit"],
        ["starting_after=nope", "starting_after"],
        ["color=red", "color"],
      ] as const) {
        it(`?${query} → 422 at query.${loc}`, async () => {
          const tenant = await createTenant(t);
          const { access } = await linked(tenant);
          const res = await asConnectionsKey(t, tenant)("GET", `/purchases?${query}`, undefined, { token: access });
          assert.equal(res.statusCode, 422, res.body);
          assert.deepEqual(res.json().detail[0].loc, ["query", loc]);
        });
      }
      it("limit=50 is allowed; a link token, or no token, is refused", async () => {
        const tenant = await createTenant(t);
        const { id, access } = await linked(tenant);
        const ok = await asConnectionsKey(t, tenant)("GET", "/purchases?limit=50", undefined, { token: access });
        assert.equal(ok.json().purchases.length, 30);
        assert.equal(ok.json().has_more, false);
        const noToken = await asConnectionsKey(t, tenant)("GET", "/purchases");
        assert.equal(noToken.statusCode, 401);
        const link = await asConnectionsKey(t, tenant)("GET", "/purchases", undefined, { token: await mintToken(t, tenant, id, "link") });
        assert.equal(link.statusCode, 403);
      });
    });

    describe("a connection that stops working stops syncing", () => {
      it("the gateway refusing the login mid-sync makes the connection unauthenticated (event) and stores nothing", async () => {
        const tenant = await createTenant(t);
        const { id, access } = await linked(tenant, DEMO_LOGINS.reauth);
        const conn = await asConnectionsKey(t, tenant)("GET", `/connections/${id}`, undefined, { token: access });
        assert.equal(conn.json().status, "unauthenticated");
        assert.equal((await eventsOf("connection.unauthenticated", id)).length, 1);
        assert.deepEqual((await asConnectionsKey(t, tenant)("GET", "/purchases", undefined, { token: access })).json(), { has_more: false, purchases: [] });
        assert.equal((await t.services.purchaseSync.syncConnection(id, { logger: { info() {}, warn() {} } })).outcome, "skipped");
      });

      it("an unavailable gateway backs off: 1 min, then 2 min, with nothing stored", async () => {
        const tenant = await createTenant(t);
        const { id } = await linked(tenant, DEMO_LOGINS.unavailable);
        const row = () => t.database.db.selectFrom("connections").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
        let r = await row();
        assert.equal(r.sync_failures, 1);
        assert.equal(r.status, "active");
        const wait1 = r.next_sync_at!.getTime() - clock.now().getTime();
        assert.ok(wait1 > 55_000 && wait1 <= 60_000, String(wait1));
        clock.advance(61_000);
        assert.equal((await t.services.purchaseSync.syncConnection(id, { logger: { info() {}, warn() {} } })).outcome, "backed_off");
        r = await row();
        assert.equal(r.sync_failures, 2);
        const wait2 = r.next_sync_at!.getTime() - clock.now().getTime();
        assert.ok(wait2 > 115_000 && wait2 <= 120_000, String(wait2));
      });

      it("disconnected: no more syncs; its purchases stay readable for the recovery window, then the purge deletes them", async () => {
        const tenant = await createTenant(t);
        const { id, access } = await linked(tenant);
        const patch = await asConnectionsKey(t, tenant)("PATCH", `/connections/${id}`, { status: "disconnected" }, { token: access });
        assert.equal(patch.statusCode, 200, patch.body);
        assert.equal((await t.services.purchaseSync.syncConnection(id, { logger: { info() {}, warn() {} } })).outcome, "skipped");
        clock.advanceDays(6);
        await t.services.jobs.runDueJobs();
        assert.equal((await allPurchases(tenant, await mintToken(t, tenant, id, "access"))).length, 30);
        clock.advanceDays(2);
        await t.services.jobs.runDueJobs();
        assert.equal((await allPurchases(tenant, await mintToken(t, tenant, id, "access"))).length, 0);
      });
    });

    describe("DELETE /connections/{connection_id} (Subtotal's Delete Connection)", () => {
      it("204 without a body; the connection and its purchases are gone; connection.deleted is sent", async () => {
        const tenant = await createTenant(t);
        const { id, access } = await linked(tenant);
        const res = await asConnectionsKey(t, tenant)("DELETE", `/connections/${id}`, undefined, { token: access });
        assert.equal(res.statusCode, 204, res.body);
        assert.equal(res.body, "");
        const gone = await asConnectionsKey(t, tenant)("GET", `/connections/${id}`, undefined, { token: access });
        assert.equal(gone.statusCode, 404);
        const left = await t.database.db.selectFrom("purchases").select((eb) => eb.fn.countAll().as("n")).where("connection_id", "=", id).executeTakeFirstOrThrow();
        assert.equal(Number(left.n), 0);
        const [deleted] = await eventsOf("connection.deleted", id);
        assert.deepEqual(Object.keys(deleted!.data as object).sort(), ["connection_id", "customer_id", "email", "mobile", "retailer_id", "status"]);
        const again = await asConnectionsKey(t, tenant)("DELETE", `/connections/${id}`, undefined, { token: access });
        assert.equal(again.statusCode, 404);
      });
    });

    describe("retailer_id takes a slug or a ULID (create-connection reference); answers show the ULID", () => {
      it("walmart / target / a ULID → 201 with the ULID; unknown or over 26 characters → 422", async () => {
        const tenant = await createTenant(t);
        const as = asConnectionsKey(t, tenant);
        for (const [given, stored] of [["walmart", WALMART], ["Target", TARGET], [TARGET, TARGET]]) {
          const res = await as("POST", "/connections", { customer_id: "c", retailer_id: given });
          assert.equal(res.statusCode, 201, res.body);
          assert.equal(res.json().retailer_id, stored);
        }
        const unknown = await as("POST", "/connections", { customer_id: "c", retailer_id: "nope" });
        assert.equal(unknown.statusCode, 422);
        assert.deepEqual(unknown.json().detail[0].loc, ["body", "retailer_id"]);
        const long = await as("POST", "/connections", { customer_id: "c", retailer_id: "x".repeat(27) });
        assert.equal(long.statusCode, 422);
        assert.equal(long.json().detail[0].type, "string_too_long");
      });
    });

    describe("OpenAPI describes the new routes", () => {
      it("GET /purchases, GET /purchases/{purchase_id} and DELETE /connections/{connection_id}, with their schemas", async () => {
        const doc = (await t.request({ method: "GET", url: "/openapi.json" })).json();
        const list = doc.paths["/purchases"].get;
        assert.deepEqual(list.parameters.map((p: { name: string }) => p.name).sort(), ["limit", "starting_after"]);
        assert.ok(list.responses["200"]);
        assert.ok(doc.paths["/purchases/{purchase_id}"].get.responses["200"]);
        assert.ok(doc.paths["/connections/{connection_id}"].delete.responses["204"]);
      });
    });

    describe("security battery", () => {
      const withAccess = async (tt: TestApp, owner: Tenant) => {
        const res = await asConnectionsKey(tt, owner)("POST", "/connections", { customer_id: "c", retailer_id: WALMART });
        const id = res.json().connection_id as string;
        return { id, token: await mintToken(tt, owner, id, "access") };
      };
      runSecurityBattery("GET /purchases", () => t, { method: "GET", url: () => "/purchases", scope: "connections:read", setup: withAccess, surface: connectionsSurface });
      runSecurityBattery("GET /purchases/{id}", () => t, {
        method: "GET",
        url: () => "/purchases/01J51S0JYV6N7K1030CV1ZKSCF",
        scope: "connections:read",
        setup: withAccess,
        surface: { ...connectionsSurface, assertNotFound: (body) => assert.match(assertDetailString(body), /No (purchase|connection) with id/) },
      });
      runSecurityBattery("DELETE /connections/{id}", () => t, {
        method: "DELETE",
        url: (ctx) => `/connections/${ctx.id}`,
        scope: "connections:write",
        setup: withAccess,
        surface: connectionsSurface,
      });
    });
  });
}
