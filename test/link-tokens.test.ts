import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DEMO_LOGINS, DEMO_PASSWORD, startDemoRetailerGateway } from "../src/demo/retailer-gateway.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { ManualClock } from "./helpers/clock.ts";
import { asConnectionsKey, assertDetailString, connectionsSurface, ULID_RE, WALMART } from "./helpers/connections.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { createTenant, type Tenant } from "./helpers/fixtures.ts";
import { assertHtmlPage, hiddenFields, submitLinkForm, type LinkPage } from "./helpers/link-page.ts";
import { runSecurityBattery, type SurfaceAuth } from "./helpers/security-battery.ts";

const TOKEN_FIELDS = ["created_at", "customer_id", "expires_at", "last_used_at", "link_token_id", "revoked_at"];
const DAY = 86_400_000;

const linkTokenSurface: SurfaceAuth = { ...connectionsSurface, assertNotFound: (body) => assert.match(assertDetailString(body), /No link token with id/) };

for (const kind of DB_KINDS) {
  describe(`[${kind}] durable link tokens (/link-tokens) and the link page they open`, () => {
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

    const api = (tenant: Tenant) => asConnectionsKey(t, tenant);
    async function newToken(tenant: Tenant, body: Record<string, unknown> = {}) {
      const res = await api(tenant)("POST", "/link-tokens", { customer_id: "cust-1", ...body });
      assert.equal(res.statusCode, 201, res.body);
      return res.json() as Record<string, any> & { link_token: string; link_token_id: string };
    }
    /** GET /link as a browser, with these query parameters. */
    async function open(query: Record<string, string>, cookie?: string): Promise<LinkPage> {
      const res = await t.request({ method: "GET", url: `/link?${new URLSearchParams(query)}`, headers: cookie ? { cookie } : {} });
      const setCookie = res.headers["set-cookie"];
      const raw = Array.isArray(setCookie) ? setCookie[0] : setCookie;
      return { res, cookie: raw ? raw.split(";")[0]! : (cookie ?? ""), fields: hiddenFields(res.body) };
    }

    describe("POST /link-tokens: customer-scoped, 1–365 days (default 30), secret shown once", () => {
      it("201 with every field; default 30 days; 1 and 365 accepted", async () => {
        const tenant = await createTenant(t);
        const lt = await newToken(tenant);
        assert.deepEqual(Object.keys(lt).sort(), [...TOKEN_FIELDS, "link_token"].sort());
        assert.match(lt.link_token_id, ULID_RE);
        assert.match(lt.link_token, /^ltk_[0-9A-Za-z]{40}$/);
        assert.equal(lt.customer_id, "cust-1");
        assert.equal(lt.revoked_at, null);
        assert.equal(lt.last_used_at, null);
        assert.equal(Date.parse(lt.expires_at) - Date.parse(lt.created_at), 30 * DAY);
        for (const days of [1, 365]) {
          const x = await newToken(tenant, { expires_in_days: days });
          assert.equal(Date.parse(x.expires_at) - Date.parse(x.created_at), days * DAY);
        }
      });

      it("bad input → 422: 0, 366, 1.5 or \"30\" days, no customer_id, a too long one, extra fields", async () => {
        const tenant = await createTenant(t);
        const cases: [Record<string, unknown>, (string | number)[]][] = [
          [{ customer_id: "c", expires_in_days: 0 }, ["body", "expires_in_days"]],
          [{ customer_id: "c", expires_in_days: 366 }, ["body", "expires_in_days"]],
          [{ customer_id: "c", expires_in_days: 1.5 }, ["body", "expires_in_days"]],
          [{ customer_id: "c", expires_in_days: "30" }, ["body", "expires_in_days"]],
          [{}, ["body", "customer_id"]],
          [{ customer_id: "x".repeat(65) }, ["body", "customer_id"]],
          [{ customer_id: "c", scope: "link" }, ["body", "scope"]],
        ];
        for (const [body, loc] of cases) {
          const res = await api(tenant)("POST", "/link-tokens", body);
          assert.equal(res.statusCode, 422, `${JSON.stringify(body)}: ${res.body}`);
          assert.ok(res.json().detail.some((d: { loc: unknown[] }) => JSON.stringify(d.loc) === JSON.stringify(loc)), `${JSON.stringify(body)}: ${res.body}`);
        }
        assert.deepEqual((await api(tenant)("GET", "/link-tokens?customer_id=c")).json(), { link_tokens: [] });
      });

      it("Idempotency-Key: the retry answers the same token record without its secret; one token exists; the store never holds it", async () => {
        const tenant = await createTenant(t);
        const headers = { "idempotency-key": "lt-1" };
        const first = await api(tenant)("POST", "/link-tokens", { customer_id: "idem" }, { headers });
        assert.equal(first.statusCode, 201, first.body);
        const replay = await api(tenant)("POST", "/link-tokens", { customer_id: "idem" }, { headers });
        assert.equal(replay.statusCode, 201, replay.body);
        assert.equal(replay.json().link_token_id, first.json().link_token_id);
        assert.equal(replay.json().link_token, undefined);
        assert.equal((await api(tenant)("GET", "/link-tokens?customer_id=idem")).json().link_tokens.length, 1);
        const stored = await t.database.db.selectFrom("idempotency_keys").select("response_body").execute();
        assert.ok(stored.every((r) => !String(r.response_body ?? "").includes(first.json().link_token)));
        const mismatch = await api(tenant)("POST", "/link-tokens", { customer_id: "other" }, { headers });
        assert.equal(mismatch.statusCode, 409, mismatch.body);
      });
    });

    describe("listable and revocable", () => {
      it("GET lists the customer's tokens only, without secrets; DELETE revokes (200, revoked_at), and the page refuses it at once", async () => {
        const tenant = await createTenant(t);
        const a = await newToken(tenant, { customer_id: "list-a" });
        await newToken(tenant, { customer_id: "list-b" });
        const list = await api(tenant)("GET", "/link-tokens?customer_id=list-a");
        assert.equal(list.statusCode, 200, list.body);
        assert.equal(list.json().link_tokens.length, 1);
        assert.deepEqual(Object.keys(list.json().link_tokens[0]).sort(), TOKEN_FIELDS);
        assert.ok(!list.body.includes(a.link_token));
        assert.equal((await api(tenant)("GET", "/link-tokens")).statusCode, 422, "customer_id is required");

        assert.equal((await open({ link_token: a.link_token })).res.statusCode, 200);
        const revoked = await api(tenant)("DELETE", `/link-tokens/${a.link_token_id}`);
        assert.equal(revoked.statusCode, 200, revoked.body);
        assert.ok(Math.abs(Date.parse(revoked.json().revoked_at) - clock.now().getTime()) < 1000, "revoked now");
        assertHtmlPage((await open({ link_token: a.link_token, retailer_id: "walmart" })).res, 401, /invalid, has expired or was revoked/);
        assert.equal((await api(tenant)("GET", "/link-tokens?customer_id=list-a")).json().link_tokens[0].revoked_at, revoked.json().revoked_at);
        const again = await api(tenant)("DELETE", `/link-tokens/${a.link_token_id}`);
        assert.equal(again.json().revoked_at, revoked.json().revoked_at, "revoking twice keeps the first time");
      });

      it("an expired token no longer opens the page", async () => {
        const tenant = await createTenant(t);
        const lt = await newToken(tenant, { expires_in_days: 1 });
        assert.equal((await open({ link_token: lt.link_token })).res.statusCode, 200);
        clock.advance(DAY + 1000);
        assertHtmlPage((await open({ link_token: lt.link_token })).res, 401, /invalid, has expired or was revoked/);
        assertHtmlPage((await open({ link_token: "ltk_" + "A".repeat(40) })).res, 401, /invalid/);
      });
    });

    describe("the hosted page with a link token", () => {
      it("without a retailer: a retailer-selection step; choosing one shows its login form; a good login creates the customer's connection, active", async () => {
        const tenant = await createTenant(t);
        const lt = await newToken(tenant, { customer_id: "pick" });
        const select = await open({ link_token: lt.link_token, redirect_url: "https://app.example.com/done" });
        assertHtmlPage(select.res, 200, /Choose your retailer/);
        assert.match(select.res.body, /<form method="get" action="\/link">/);
        assert.match(select.res.body, /<option value="walmart">Walmart<\/option>/);
        assert.deepEqual(select.fields, { link_token: lt.link_token, redirect_url: "https://app.example.com/done" });

        // The browser submits the GET form: its fields plus the chosen option.
        const form = await open({ ...select.fields, retailer_id: "walmart" });
        assertHtmlPage(form.res, 200, /Connect your Walmart account/);
        const done = await submitLinkForm(t, form, { username: DEMO_LOGINS.good, password: DEMO_PASSWORD });
        assert.equal(done.statusCode, 303, done.body);
        const location = new URL(String(done.headers.location));
        assert.equal(location.origin + location.pathname, "https://app.example.com/done");
        const connectionId = location.searchParams.get("connection_id")!;
        assert.match(connectionId, ULID_RE);
        const listed = (await api(tenant)("GET", "/connections?customer_id=pick")).json().connections;
        assert.deepEqual(listed, [{ connection_id: connectionId, customer_id: "pick", retailer_id: WALMART, status: "active", email: null, mobile: null }]);

        // The token is durable: used again for the same retailer, it re-links the same connection.
        const second = await open({ link_token: lt.link_token, retailer_id: WALMART }, form.cookie);
        const again = await submitLinkForm(t, second, { username: DEMO_LOGINS.good, password: DEMO_PASSWORD });
        assert.equal(again.statusCode, 200, again.body);
        assert.equal((await api(tenant)("GET", "/connections?customer_id=pick")).json().connections.length, 1);
        assert.ok((await api(tenant)("GET", "/link-tokens?customer_id=pick")).json().link_tokens[0].last_used_at);
      });

      it("re-authentication: opened with an unauthenticated connection's connection_id, a good login makes it active again", async () => {
        const tenant = await createTenant(t);
        const lt = await newToken(tenant, { customer_id: "reauth" });
        const first = await open({ link_token: lt.link_token, retailer_id: "walmart" });
        assert.equal((await submitLinkForm(t, first, { username: DEMO_LOGINS.good, password: DEMO_PASSWORD })).statusCode, 200);
        const [c] = (await api(tenant)("GET", "/connections?customer_id=reauth")).json().connections;
        assert.equal((await api(tenant)("PATCH", `/simulated-connections/${c.connection_id}`, { status: "unauthenticated" })).statusCode, 200);

        const page = await open({ link_token: lt.link_token, connection_id: c.connection_id });
        assertHtmlPage(page.res, 200, /Connect your Walmart account/);
        assert.equal(page.fields.connection_id, c.connection_id);
        const refused = await submitLinkForm(t, page, { username: DEMO_LOGINS.good, password: "wrong" });
        assert.equal(refused.statusCode, 422, refused.body);
        assert.equal((await api(tenant)("GET", "/connections?customer_id=reauth")).json().connections[0].status, "unauthenticated");
        const done = await submitLinkForm(t, page, { username: DEMO_LOGINS.good, password: DEMO_PASSWORD });
        assert.equal(done.statusCode, 200, done.body);
        const after = (await api(tenant)("GET", "/connections?customer_id=reauth")).json().connections;
        assert.deepEqual(after.map((x: { connection_id: string; status: string }) => [x.connection_id, x.status]), [[c.connection_id, "active"]]);
        const events = await t.database.db.selectFrom("events").select("type").where("entity_id", "=", tenant.entityId).orderBy("id").execute();
        assert.deepEqual(events.map((e) => e.type).filter((x) => x.startsWith("connection.")), ["connection.activated", "connection.unauthenticated", "connection.activated"]);
      });

      it("another customer's connection, a disconnected one, an unknown retailer, a CSRF token for another target: refused", async () => {
        const tenant = await createTenant(t);
        const mine = await newToken(tenant, { customer_id: "me" });
        const theirs = await api(tenant)("POST", "/connections", { customer_id: "someone-else", retailer_id: "walmart" });
        assertHtmlPage((await open({ link_token: mine.link_token, connection_id: theirs.json().connection_id })).res, 404, /No connection/);
        assertHtmlPage((await open({ link_token: mine.link_token, retailer_id: "nowhere" })).res, 400, /Unknown retailer_id/);
        const walmart = await open({ link_token: mine.link_token, retailer_id: "walmart" });
        const swapped = await submitLinkForm(t, walmart, { username: DEMO_LOGINS.good, password: DEMO_PASSWORD }, { fields: { retailer_id: "target" } });
        assertHtmlPage(swapped, 403, /not sent from the link page/);
        assert.deepEqual((await api(tenant)("GET", "/connections?customer_id=me")).json(), { connections: [] });
        assertHtmlPage((await open({})).res, 400, /connection_token or a link_token/);
      });

      it("login checks per token are limited (5 an hour), across requests", async () => {
        const tenant = await createTenant(t);
        const lt = await newToken(tenant, { customer_id: "limit" });
        const page = await open({ link_token: lt.link_token, retailer_id: "walmart" });
        for (let i = 0; i < 5; i++) assert.equal((await submitLinkForm(t, page, { username: DEMO_LOGINS.good, password: "wrong" })).statusCode, 422);
        assertHtmlPage(await submitLinkForm(t, page, { username: DEMO_LOGINS.good, password: DEMO_PASSWORD }), 429, /Too many/);
        clock.advance(3_600_001);
        assert.equal((await submitLinkForm(t, page, { username: DEMO_LOGINS.good, password: DEMO_PASSWORD })).statusCode, 200);
      });
    });

    it("the token's secret appears in no later API response, log line or audit entry", async () => {
      const tenant = await createTenant(t);
      const lt = await newToken(tenant, { customer_id: "leak" });
      const before = t.responses.length;
      await api(tenant)("GET", "/link-tokens?customer_id=leak");
      const page = await open({ link_token: lt.link_token, retailer_id: "walmart" });
      await submitLinkForm(t, page, { username: DEMO_LOGINS.good, password: "wrong" });
      await api(tenant)("DELETE", `/link-tokens/${lt.link_token_id}`);
      const later = t.responses.slice(before).filter((r) => !r.includes("<!doctype html>")).join("\n");
      assert.ok(!later.includes(lt.link_token));
      assert.ok(!t.logs.join("\n").includes(lt.link_token), "no log line: the page's URL carries it, and request URLs are logged redacted");
      const audit = await t.database.db.selectFrom("audit_events").selectAll().where("entity_id", "=", tenant.entityId).execute();
      assert.ok(!JSON.stringify(audit).includes(lt.link_token));
    });

    describe("security battery", () => {
      const setup = async (tt: TestApp, owner: Tenant) => {
        const res = await asConnectionsKey(tt, owner)("POST", "/link-tokens", { customer_id: "b" });
        return { id: res.json().link_token_id as string };
      };
      runSecurityBattery("POST /link-tokens", () => t, { method: "POST", url: () => "/link-tokens", payload: { customer_id: "b" }, scope: "connections:write", surface: connectionsSurface });
      runSecurityBattery("GET /link-tokens", () => t, { method: "GET", url: () => "/link-tokens?customer_id=b", scope: "connections:read", surface: connectionsSurface });
      runSecurityBattery("DELETE /link-tokens/{id}", () => t, { method: "DELETE", url: (c) => `/link-tokens/${c.id}`, scope: "connections:write", setup, surface: linkTokenSurface });
    });
  });
}
