import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, beforeEach, describe, it } from "node:test";
import { sql } from "kysely";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { asConnectionsKey, assertConnectionShape, createConnection, mintToken, WALMART } from "./helpers/connections.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { startFakeProvider, type FakeProvider, type RecordedRequest } from "./helpers/fake-provider.ts";
import { createTenant, type Tenant } from "./helpers/fixtures.ts";
import { assertHtmlPage, openLinkPage, submitLinkForm } from "./helpers/link-page.ts";

const REDIRECT = "https://app.example.com/linked?step=2";

for (const kind of DB_KINDS) {
  describe(`[${kind}] the hosted link page and connection statuses`, () => {
    let t: TestApp;
    let fake: FakeProvider;
    /** The fake retailer's accounts: username → password. */
    const accounts = new Map<string, string>();
    let outage = false;

    const loginCheck = (req: RecordedRequest) => {
      if (outage) return { status: 503, body: { message: "down" } };
      const { username, password } = JSON.parse(req.body) as { username: string; password: string };
      if (accounts.get(username) === password) return { status: 200, body: { ok: true } };
      return { status: 401, body: { message: "Your Walmart email or password is incorrect." } };
    };

    before(async () => {
      fake = await startFakeProvider({ "POST /retailers/walmart/login-checks": loginCheck, "POST /retailers/target/login-checks": loginCheck });
      // Purchase syncs every 7 days: none is due again when a test moves the clock a day (see the re-check job test).
      t = await startTestApp(kind, { env: { PATCHBAY_PROVIDER_URL_RETAILERS: fake.url, PATCHBAY_PURCHASE_SYNC_MINUTES: "10080" } });
    });
    after(async () => {
      await t.close();
      await fake.close();
    });
    beforeEach(() => {
      outage = false;
    });

    const newAccount = () => {
      const username = `shopper-${randomBytes(4).toString("hex")}@example.com`;
      const password = `pw-${randomBytes(12).toString("hex")}`;
      accounts.set(username, password);
      return { username, password };
    };
    const getConnection = async (tenant: Tenant, id: string) => {
      const res = await asConnectionsKey(t, tenant)("GET", `/connections/${id}`, undefined, { token: await mintToken(t, tenant, id, "access") });
      assert.equal(res.statusCode, 200, res.body);
      return res.json();
    };
    const eventTypes = async (id: string) =>
      (await t.database.db.selectFrom("events").select(["type", "data"]).orderBy("id").execute()).filter((e) => (e.data as { connection_id?: string }).connection_id === id).map((e) => e.type);
    /** Links a new connection end to end; returns it with the login used. */
    const linkedConnection = async (tenant: Tenant) => {
      const c = await createConnection(t, tenant);
      const login = newAccount();
      const page = await openLinkPage(t, await mintToken(t, tenant, c.connection_id, "link"), REDIRECT);
      const res = await submitLinkForm(t, page, login);
      assert.equal(res.statusCode, 303, res.body);
      return { c, login };
    };

    describe("the link flow, end to end over HTTP", () => {
      it("GET /link shows the form; POST with the CSRF token and an accepted login redirects with the connection id; status active", async () => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant);
        const linkToken = await mintToken(t, tenant, c.connection_id, "link");

        const page = await openLinkPage(t, linkToken, REDIRECT);
        assertHtmlPage(page.res, 200, /Connect your Walmart account/);
        assert.match(page.res.body, /<input type="password" id="password" name="password"/);
        assert.match(page.cookie, /^pb_link_csrf=[A-Za-z0-9_-]{24}$/);
        const setCookie = String(page.res.headers["set-cookie"]);
        assert.match(setCookie, /HttpOnly/);
        assert.match(setCookie, /SameSite=Strict/);
        assert.match(setCookie, /Path=\/link/);
        assert.equal(page.res.headers["referrer-policy"], "no-referrer");
        assert.match(String(page.res.headers["content-security-policy"]), /form-action 'self' https:\/\/app\.example\.com/);
        assert.deepEqual(Object.keys(page.fields).sort(), ["connection_token", "csrf_token", "redirect_url"]);

        const login = newAccount();
        const res = await submitLinkForm(t, page, login);
        assert.equal(res.statusCode, 303, res.body);
        const location = new URL(String(res.headers.location));
        assert.equal(`${location.origin}${location.pathname}`, "https://app.example.com/linked");
        assert.equal(location.searchParams.get("step"), "2", "the redirect_url's own query is kept");
        assert.equal(location.searchParams.get("connection_id"), c.connection_id);

        const checked = fake.requests.at(-1)!;
        assert.equal(checked.path, "/retailers/walmart/login-checks");
        assert.deepEqual(JSON.parse(checked.body), login);

        const now = await getConnection(tenant, c.connection_id);
        assertConnectionShape(now);
        assert.equal(now.status, "active");
        assert.deepEqual(await eventTypes(c.connection_id), ["connection.activated"]);
        const audit = await t.database.db.selectFrom("audit_events").select(["action", "actor_type"]).where("target_id", "=", c.connection_id).orderBy("id").execute();
        assert.deepEqual(audit.filter((a) => a.action === "connection.linked"), [{ action: "connection.linked", actor_type: "system" }]);
      });

      it("a refused login shows the retailer's refusal and the form again; a retry with the same link succeeds", async () => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant);
        const page = await openLinkPage(t, await mintToken(t, tenant, c.connection_id, "link"), REDIRECT);
        const login = newAccount();

        const refused = await submitLinkForm(t, page, { username: login.username, password: "wrong-password-123" });
        assertHtmlPage(refused, 422, /Your Walmart email or password is incorrect\./);
        assert.match(refused.body, /<form method="post" action="\/link"/);
        assert.ok(refused.body.includes(`value="${login.username}"`), "the username is kept for the retry");
        assert.ok(!refused.body.includes("wrong-password-123"), "the password is never echoed");
        assert.equal((await getConnection(tenant, c.connection_id)).status, "initialized");
        assert.deepEqual(await eventTypes(c.connection_id), []);

        const retry = await submitLinkForm(t, { ...page, res: refused }, login);
        assert.equal(retry.statusCode, 303, retry.body);
        assert.equal((await getConnection(tenant, c.connection_id)).status, "active");
      });

      it("an unreachable retailer concludes nothing: 503 page, try again later, status unchanged", async () => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant);
        const page = await openLinkPage(t, await mintToken(t, tenant, c.connection_id, "link"));
        outage = true;
        const res = await submitLinkForm(t, page, newAccount());
        assertHtmlPage(res, 503, /not answering right now/);
        assert.equal((await getConnection(tenant, c.connection_id)).status, "initialized");
      });

      it("without a redirect_url the page says the account is connected", async () => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant);
        const page = await openLinkPage(t, await mintToken(t, tenant, c.connection_id, "link"));
        const res = await submitLinkForm(t, page, newAccount());
        assertHtmlPage(res, 200, /Your Walmart account is connected/);
      });

      it("empty credentials re-show the form without calling the retailer", async () => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant);
        const page = await openLinkPage(t, await mintToken(t, tenant, c.connection_id, "link"));
        const calls = fake.requests.length;
        const res = await submitLinkForm(t, page, { username: "  ", password: "" });
        assertHtmlPage(res, 422, /Enter your username and password/);
        assert.equal(fake.requests.length, calls);
      });
    });

    describe("the link token is single-purpose", () => {
      it("a link token that linked the account is spent: the page refuses it (409)", async () => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant);
        const linkToken = await mintToken(t, tenant, c.connection_id, "link");
        const page = await openLinkPage(t, linkToken);
        assert.equal((await submitLinkForm(t, page, newAccount())).statusCode, 200);
        assertHtmlPage((await openLinkPage(t, linkToken)).res, 409, /already been used/);
        assertHtmlPage(await submitLinkForm(t, page, newAccount()), 409, /already been used/);
      });

      it("a link token allows 5 login attempts; then the page refuses (429) without asking the retailer; a new link resets it", async () => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant);
        const page = await openLinkPage(t, await mintToken(t, tenant, c.connection_id, "link"));
        const login = newAccount();
        for (let i = 0; i < 5; i++) assertHtmlPage(await submitLinkForm(t, page, { username: login.username, password: `guess-${i}` }), 422, /incorrect/);
        const calls = fake.requests.length;
        assertHtmlPage(await submitLinkForm(t, page, login), 429, /Too many login attempts/);
        assert.equal(fake.requests.length, calls, "the retailer was not asked");
        const fresh = await openLinkPage(t, await mintToken(t, tenant, c.connection_id, "link"));
        assert.equal((await submitLinkForm(t, fresh, login)).statusCode, 200);
      });

      it("an access token does not open the link page (403); expired or forged link tokens → 401", async () => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant);
        assertHtmlPage((await openLinkPage(t, await mintToken(t, tenant, c.connection_id, "access"))).res, 403, /scope link/);
        assertHtmlPage((await openLinkPage(t, "pbct_forged.token")).res, 401, /not valid/);
        const link = await mintToken(t, tenant, c.connection_id, "link");
        const page = await openLinkPage(t, link);
        t.clock.advance(15 * 60_000 + 1);
        assertHtmlPage((await openLinkPage(t, link)).res, 401, /expired/);
        assertHtmlPage(await submitLinkForm(t, page, newAccount()), 401, /expired/);
      });

      it("a link token for a connection that was disconnected meanwhile is refused (409)", async () => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant);
        const link = await mintToken(t, tenant, c.connection_id, "link");
        const access = await mintToken(t, tenant, c.connection_id, "access");
        await asConnectionsKey(t, tenant)("PATCH", `/connections/${c.connection_id}`, { status: "disconnected" }, { token: access });
        assertHtmlPage((await openLinkPage(t, link)).res, 409, /disconnected/);
      });
    });

    describe("the link form is CSRF-safe", () => {
      const freshPage = async () => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant);
        return { tenant, c, page: await openLinkPage(t, await mintToken(t, tenant, c.connection_id, "link"), REDIRECT) };
      };

      it("refuses a POST without the page's cookie, with a wrong or foreign CSRF token, or from another site", async () => {
        const { tenant, c, page } = await freshPage();
        const other = await freshPage();
        const login = newAccount();
        const calls = fake.requests.length;
        const attempts = [
          await submitLinkForm(t, page, login, { cookie: null }),
          await submitLinkForm(t, page, login, { cookie: "pb_link_csrf=AAAAAAAAAAAAAAAAAAAAAAAA" }),
          await submitLinkForm(t, page, login, { fields: { csrf_token: "forged" } }),
          await submitLinkForm(t, page, login, { fields: { csrf_token: other.page.fields.csrf_token! }, cookie: other.page.cookie }),
          await submitLinkForm(t, page, login, { fields: { redirect_url: "https://evil.example.net/" } }),
          await submitLinkForm(t, page, login, { headers: { origin: "https://evil.example.net" } }),
          await submitLinkForm(t, page, login, { headers: { "sec-fetch-site": "cross-site" } }),
        ];
        for (const res of attempts) assertHtmlPage(res, 403, /link page/);
        assert.equal(fake.requests.length, calls, "no refused form reached the retailer");
        assert.equal((await getConnection(tenant, c.connection_id)).status, "initialized");
      });

      it("accepts the same-origin POST a browser sends (Origin = Host, Sec-Fetch-Site same-origin)", async () => {
        const { page } = await freshPage();
        const res = await submitLinkForm(t, page, newAccount(), { headers: { origin: "http://localhost:80", host: "localhost:80", "sec-fetch-site": "same-origin" } });
        assert.equal(res.statusCode, 303, res.body);
      });

      it("accepts the POST a browser sends from the no-referrer page (Origin null, Sec-Fetch-Site same-origin); refuses Origin null otherwise", async () => {
        const { page } = await freshPage();
        const refused = [
          await submitLinkForm(t, page, newAccount(), { headers: { origin: "null" } }),
          await submitLinkForm(t, page, newAccount(), { headers: { origin: "null", "sec-fetch-site": "cross-site" } }),
        ];
        for (const res of refused) assertHtmlPage(res, 403, /link page/);
        const res = await submitLinkForm(t, page, newAccount(), { headers: { origin: "null", "sec-fetch-site": "same-origin" } });
        assert.equal(res.statusCode, 303, res.body);
      });

      it("a second GET keeps the cookie, so two open tabs both work", async () => {
        const { tenant, c, page } = await freshPage();
        const again = await openLinkPage(t, await mintToken(t, tenant, c.connection_id, "link"), REDIRECT, page.cookie);
        assert.equal(again.cookie, page.cookie);
        assert.equal((await submitLinkForm(t, page, newAccount())).statusCode, 303);
      });
    });

    describe("redirect_url must be an absolute http(s) URL", () => {
      it("refuses other schemes, relative URLs and embedded credentials (400 page)", async () => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant);
        const link = await mintToken(t, tenant, c.connection_id, "link");
        for (const bad of ["javascript:alert(1)", "data:text/html,hi", "ftp://example.com/", "/relative", "//evil.example.net/", "https://user:pw@example.com/"]) {
          assertHtmlPage((await openLinkPage(t, link, bad)).res, 400, /redirect_url must be an absolute http or https URL/);
        }
        assert.equal((await openLinkPage(t, link, "http://localhost:3000/done")).res.statusCode, 200);
      });
    });

    describe("statuses: active → unauthenticated → active again on re-link, each change an event", () => {
      it("the simulated endpoint marks an active connection unauthenticated; re-linking activates it again", async () => {
        const tenant = await createTenant(t);
        const { c } = await linkedConnection(tenant);
        const sim = await asConnectionsKey(t, tenant)("PATCH", `/simulated-connections/${c.connection_id}`, { status: "unauthenticated" });
        assert.equal(sim.statusCode, 200, sim.body);
        assertConnectionShape(sim.json());
        assert.equal(sim.json().status, "unauthenticated");
        const again = await asConnectionsKey(t, tenant)("PATCH", `/simulated-connections/${c.connection_id}`, { status: "unauthenticated" });
        assert.equal(again.statusCode, 200, "repeating it is a no-op");

        const page = await openLinkPage(t, await mintToken(t, tenant, c.connection_id, "link"));
        assert.equal((await submitLinkForm(t, page, newAccount())).statusCode, 200);
        assert.equal((await getConnection(tenant, c.connection_id)).status, "active");
        assert.deepEqual(await eventTypes(c.connection_id), ["connection.activated", "connection.unauthenticated", "connection.activated"]);
      });

      it("disconnecting an active connection destroys its sealed login and emits connection.disconnected", async () => {
        const tenant = await createTenant(t);
        const { c } = await linkedConnection(tenant);
        const secrets = () => t.database.db.selectFrom("vault_secrets").select("id").where("purpose", "=", "connection.retailer_login").where("entity_id", "=", tenant.entityId).execute();
        assert.equal((await secrets()).length, 1);
        const token = await mintToken(t, tenant, c.connection_id, "access");
        const res = await asConnectionsKey(t, tenant)("PATCH", `/connections/${c.connection_id}`, { status: "disconnected" }, { token });
        assert.equal(res.json().status, "disconnected");
        assert.equal((await secrets()).length, 0);
        assert.deepEqual(await eventTypes(c.connection_id), ["connection.activated", "connection.disconnected"]);
      });
    });

    describe("the periodic re-check marks connections whose login the retailer now rejects", () => {
      it("rejected → unauthenticated (event, login destroyed); accepted or unreachable → unchanged; not yet due → not checked", async () => {
        const tenant = await createTenant(t);
        const stale = await linkedConnection(tenant);
        const fine = await linkedConnection(tenant);
        const flaky = await linkedConnection(tenant);
        const recheck = () => t.services.connectionLinking.recheckDueConnections({ limit: 1000, logger: { info() {}, warn() {} } });

        assert.deepEqual(await recheck(), { claimed: 0, checked: 0, rejected: 0, unavailable: 0 }, "nothing is due right after linking");
        accounts.set(stale.login.username, "changed-by-the-customer");
        t.clock.advance(25 * 3_600_000);
        const checkedBefore = fake.requests.length;
        outage = false;
        const flakyUser = flaky.login.username;
        fake.routes["POST /retailers/walmart/login-checks"] = (req) => (JSON.parse(req.body).username === flakyUser ? { status: 503 } : loginCheck(req));
        try {
          const summary = await recheck();
          assert.ok(summary.checked >= 3 && summary.rejected >= 1 && summary.unavailable >= 1, JSON.stringify(summary));
        } finally {
          fake.routes["POST /retailers/walmart/login-checks"] = loginCheck;
        }
        assert.ok(fake.requests.length - checkedBefore >= 3);
        assert.equal((await getConnection(tenant, stale.c.connection_id)).status, "unauthenticated");
        assert.equal((await getConnection(tenant, fine.c.connection_id)).status, "active");
        assert.equal((await getConnection(tenant, flaky.c.connection_id)).status, "active");
        assert.deepEqual(await eventTypes(stale.c.connection_id), ["connection.activated", "connection.unauthenticated"]);
        assert.deepEqual(await recheck(), { claimed: 0, checked: 0, rejected: 0, unavailable: 0 }, "each connection is checked once per interval");
      });
    });

    describe("the re-check runs as the recurring check-connections job", () => {
      it("a due connection whose login is now rejected turns unauthenticated when the job queue runs", async () => {
        const tenant = await createTenant(t);
        const stale = await linkedConnection(tenant);
        // The purchase syncs queued by the linking run first: a sync holding the connection's row makes the
        // re-check skip it (SKIP LOCKED) until its next round, which would make this test depend on timing.
        await t.services.jobs.runDueJobs();
        accounts.set(stale.login.username, "changed-again");
        t.clock.advance(25 * 3_600_000);
        const run = await t.services.jobs.runDueJobs();
        assert.equal(run.failed, 0);
        assert.ok(run.succeeded >= 1);
        assert.equal((await getConnection(tenant, stale.c.connection_id)).status, "unauthenticated");
      });
    });

    describe("the retailer password is never logged, returned, or stored unsealed", () => {
      it("a planted password appears in no response, log line, event, audit row or table outside the vault's ciphertext", async () => {
        const tenant = await createTenant(t);
        const { c, login } = await linkedConnection(tenant);
        const page = await openLinkPage(t, await mintToken(t, tenant, c.connection_id, "link"));
        await submitLinkForm(t, page, { username: login.username, password: `${login.password}-typo` });
        await getConnection(tenant, c.connection_id);

        const haystacks = [...t.responses, ...t.logs];
        for (const h of haystacks) assert.ok(!h.includes(login.password), "password leaked into a response or log line");
        const linkToken = page.fields.connection_token!;
        assert.ok(!t.logs.join("").includes(linkToken), "the link token (in the page URL) is not logged");
        assert.ok(t.logs.join("").includes("connection_token=%5BREDACTED%5D"), "the page URL is logged redacted");
        const dump = await sql<{ t: string }>`
          select coalesce(string_agg(x::text, ' '), '') as t from (
            select row_to_json(e)::text as x from events e
            union all select row_to_json(a)::text from audit_events a
            union all select row_to_json(c)::text from connections c
            union all select encode(v.ciphertext, 'escape') from vault_secrets v
          ) rows`.execute(t.database.db);
        assert.ok(!dump.rows[0]!.t.includes(login.password));
      });
    });

    describe("the retailer gateway URL: per retailer, else shared, else the page says linking is not set up", () => {
      it("PATCHBAY_PROVIDER_URL_RETAILER_<SLUG> beats PATCHBAY_PROVIDER_URL_RETAILERS; none → 501 page", async () => {
        const own = await startFakeProvider({ "POST /retailers/target/login-checks": () => ({ status: 200, body: {} }) });
        const app = await startTestApp(kind, { env: { PATCHBAY_PROVIDER_URL_RETAILERS: fake.url, PATCHBAY_PROVIDER_URL_RETAILER_TARGET: own.url } });
        const bare = await startTestApp(kind);
        try {
          const tenant = await createTenant(app);
          const c = await createConnection(app, tenant, { retailer_id: "01J7SC0PMFZ76RF2QPTKT0PV4E" });
          const page = await openLinkPage(app, await mintToken(app, tenant, c.connection_id, "link"));
          assert.equal((await submitLinkForm(app, page, { username: "u", password: "p" })).statusCode, 200);
          assert.equal(own.requests.length, 1);

          const bareTenant = await createTenant(bare);
          const b = await createConnection(bare, bareTenant, { retailer_id: WALMART });
          assertHtmlPage((await openLinkPage(bare, await mintToken(bare, bareTenant, b.connection_id, "link"))).res, 501, /not set up/);
        } finally {
          await app.close();
          await bare.close();
          await own.close();
        }
      });
    });
  });
}
