import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RETAILERS } from "../src/catalog/retailers.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import {
  assertConnectionShape,
  assertDetailString,
  asConnectionsKey,
  connectionsSurface,
  createConnection,
  mintToken,
  TARGET,
  ULID_RE,
  WALMART,
} from "./helpers/connections.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { createTenant } from "./helpers/fixtures.ts";
import { runSecurityBattery } from "./helpers/security-battery.ts";

for (const kind of DB_KINDS) {
  describe(`[${kind}] /connections`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(async () => t.close());

    const eventsOf = (connectionId: string) =>
      t.database.db
        .selectFrom("events")
        .select(["type", "data"])
        .where(({ ref }) => ref("data", "->>").key("connection_id" as never), "=", connectionId)
        .orderBy("id")
        .execute();
    const auditOf = (connectionId: string) =>
      t.database.db.selectFrom("audit_events").selectAll().where("target_type", "=", "connection").where("target_id", "=", connectionId).orderBy("id").execute();

    describe("GET /retailers lists the retailer catalog with stable ULID ids", () => {
      it("answers {retailers:[{retailer_id, name, slug}]}, every id a unique 26-character ULID", async () => {
        const res = await asConnectionsKey(t, await createTenant(t))("GET", "/retailers");
        assert.equal(res.statusCode, 200, res.body);
        const { retailers } = res.json() as { retailers: { retailer_id: string; name: string; slug: string }[] };
        assert.ok(retailers.length >= 8);
        for (const r of retailers) {
          assert.deepEqual(Object.keys(r).sort(), ["name", "retailer_id", "slug"]);
          assert.match(r.retailer_id, ULID_RE);
        }
        assert.equal(new Set(retailers.map((r) => r.retailer_id)).size, retailers.length);
        for (const slug of ["walmart", "target", "amazon", "costco", "kroger", "instacart", "bestbuy", "homedepot"]) {
          assert.ok(retailers.some((r) => r.slug === slug), slug);
        }
        assert.equal(retailers.find((r) => r.slug === "walmart")!.retailer_id, WALMART, "the seed's example retailer id is Walmart's");
      });

      it("the ids are committed data: the same on every start", () => {
        assert.deepEqual(
          RETAILERS.map((r) => r.id),
          ["01J7SC0NN73R6F5VVSP3ZKPDA3", "01J7SC0PMFZ76RF2QPTKT0PV4E", "01J7SC0QKQGWGF9JQ2DW8G3T13", "01J7SC0RJZJ40MAKHN2BBK0W47",
            "01J7SC0SJ7T3EEWZCM4W4WPWMF", "01J7SC0THF4TR4S2XMVJ1XCNY7", "01J7SC0VGQJFD63V33EX24FKYG", "01J7SC0WFZ59CRYNJYKBV3CH93"],
        );
      });
    });

    describe("POST /connections creates an initialized connection", () => {
      it("answers 201 with the six seed fields, a ULID id and status initialized", async () => {
        const tenant = await createTenant(t);
        const res = await asConnectionsKey(t, tenant)("POST", "/connections", { customer_id: "8a46e581-48ba-498a-9ad0-2ee72582e1af", retailer_id: WALMART, email: "alice@example.com", mobile: "+1234567890" });
        assert.equal(res.statusCode, 201, res.body);
        const c = res.json();
        assertConnectionShape(c);
        assert.deepEqual({ ...c, connection_id: "x" }, { connection_id: "x", customer_id: "8a46e581-48ba-498a-9ad0-2ee72582e1af", retailer_id: WALMART, status: "initialized", email: "alice@example.com", mobile: "+1234567890" });
      });

      it("email and mobile are optional and then null", async () => {
        const c = await createConnection(t, await createTenant(t), { customer_id: "c-2" });
        assertConnectionShape(c);
        assert.equal(c.email, null);
        assert.equal(c.mobile, null);
      });

      it("ids are time-ordered ULIDs: later connections sort after earlier ones", async () => {
        const tenant = await createTenant(t);
        const a = await createConnection(t, tenant);
        const b = await createConnection(t, tenant);
        assert.ok(a.connection_id < b.connection_id);
      });

      it("records who created it in the audit log", async () => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant, { email: "a@example.com" });
        const audit = await auditOf(c.connection_id);
        assert.equal(audit.length, 1);
        assert.equal(audit[0]!.action, "connection.created");
        assert.equal(audit[0]!.actor_id, tenant.keyId);
        assert.equal(audit[0]!.entity_id, tenant.entityId);
        assert.match(String(audit[0]!.request_id), /^req_/);
      });
    });

    describe("validation answers 422 {detail:[{loc, msg, type}]}, every violation listed", () => {
      const post = async (body: unknown, raw = false) => {
        const call = asConnectionsKey(t, await createTenant(t));
        return raw ? call("POST", "/connections", body, { headers: { "content-type": "application/json" } }) : call("POST", "/connections", body);
      };
      const details = (res: { statusCode: number; body: string; json(): unknown }) => {
        assert.equal(res.statusCode, 422, res.body);
        const body = res.json() as { detail: { loc: unknown[]; msg: string; type: string }[] };
        assert.deepEqual(Object.keys(body), ["detail"]);
        assert.ok(Array.isArray(body.detail) && body.detail.length > 0);
        for (const d of body.detail) {
          assert.deepEqual(Object.keys(d).sort(), ["loc", "msg", "type"]);
          assert.ok(Array.isArray(d.loc) && typeof d.msg === "string" && typeof d.type === "string");
        }
        return body.detail;
      };
      const only = (detail: { loc: unknown[]; type: string }[], loc: unknown[], type: string) => {
        assert.deepEqual(detail.map((d) => [d.loc, d.type]), [[loc, type]]);
      };

      it("missing required fields: one entry each, type missing", async () => {
        const d = details(await post({}));
        assert.deepEqual(d.map((x) => x.loc).sort(), [["body", "customer_id"], ["body", "retailer_id"]]);
        assert.ok(d.every((x) => x.type === "missing" && x.msg === "Field required"));
      });

      it("customer_id: 1 to 64 characters", async () => {
        only(details(await post({ customer_id: "x".repeat(65), retailer_id: WALMART })), ["body", "customer_id"], "string_too_long");
        only(details(await post({ customer_id: "", retailer_id: WALMART })), ["body", "customer_id"], "string_too_short");
        assert.equal((await post({ customer_id: "x".repeat(64), retailer_id: WALMART })).statusCode, 201);
      });

      it("email: an email address, at most 64 characters", async () => {
        for (const email of ["not-an-email", "a@", "@example.com", "a b@example.com"]) {
          only(details(await post({ customer_id: "c", retailer_id: WALMART, email })), ["body", "email"], "value_error");
        }
        const long = `${"a".repeat(53)}@example.com`;
        assert.equal(long.length, 65);
        only(details(await post({ customer_id: "c", retailer_id: WALMART, email: long })), ["body", "email"], "string_too_long");
        assert.equal((await post({ customer_id: "c", retailer_id: WALMART, email: long.slice(1) })).statusCode, 201);
      });

      it("mobile: E.164 (+, country code, at most 15 digits), at most 16 characters", async () => {
        for (const mobile of ["1234567890", "+0123456789", "+1 234 567", "+1-234-567", "+", "+1", "tel:+1234", "+12345678901234567"]) {
          const d = details(await post({ customer_id: "c", retailer_id: WALMART, mobile }));
          assert.ok(d.every((x) => x.loc.join(".") === "body.mobile"), mobile);
          assert.ok(d.some((x) => x.type === "string_pattern_mismatch" && /E\.164/.test(x.msg)), `${mobile}: ${JSON.stringify(d)}`);
        }
        for (const mobile of ["+1234567890", "+14155550123", "+442071838750", "+123456789012345"]) {
          assert.equal((await post({ customer_id: "c", retailer_id: WALMART, mobile })).statusCode, 201, mobile);
        }
      });

      it("retailer_id: a known retailer's ULID or slug, at most 26 characters", async () => {
        only(details(await post({ customer_id: "c", retailer_id: "x".repeat(27) })), ["body", "retailer_id"], "string_too_long");
        const unknown = details(await post({ customer_id: "c", retailer_id: "01J7SC0NN73R6F5VVSP3ZKPDA4" }));
        only(unknown, ["body", "retailer_id"], "value_error");
        assert.match(unknown[0]!.msg, /Unknown retailer_id/);
      });

      it("wrong types, unknown fields, non-object bodies and broken JSON", async () => {
        only(details(await post({ customer_id: 42, retailer_id: WALMART })), ["body", "customer_id"], "string_type");
        only(details(await post({ customer_id: "c", retailer_id: WALMART, nickname: "x" })), ["body", "nickname"], "extra_forbidden");
        only(details(await post("[1,2]", true)), ["body"], "model_attributes_type");
        only(details(await post("{\"customer_id\": ", true)), ["body"], "json_invalid");
        const none = await asConnectionsKey(t, await createTenant(t))("POST", "/connections");
        only(details(none), ["body"], "missing");
      });

      it("lists every violation at once", async () => {
        const d = details(await post({ customer_id: "x".repeat(65), retailer_id: "x".repeat(27), email: "bad", mobile: "123", extra: 1 }));
        assert.deepEqual(d.map((x) => x.loc.join(".")).sort(), ["body.customer_id", "body.email", "body.extra", "body.mobile", "body.retailer_id"]);
      });

      it("nothing is written when validation fails", async () => {
        const tenant = await createTenant(t);
        await asConnectionsKey(t, tenant)("POST", "/connections", { customer_id: "never", retailer_id: WALMART, mobile: "bad" });
        const list = await asConnectionsKey(t, tenant)("GET", "/connections?customer_id=never");
        assert.deepEqual(list.json(), { connections: [] });
      });
    });

    describe("GET /connections?customer_id=… lists one customer's connections of the caller's entity", () => {
      it("answers {connections:[…]} in creation order, only that customer's, only this entity's", async () => {
        const tenant = await createTenant(t);
        const other = await createTenant(t);
        const a = await createConnection(t, tenant, { customer_id: "alice" });
        const b = await createConnection(t, tenant, { customer_id: "alice", retailer_id: TARGET });
        await createConnection(t, tenant, { customer_id: "bob" });
        await createConnection(t, other, { customer_id: "alice" });
        const res = await asConnectionsKey(t, tenant)("GET", "/connections?customer_id=alice");
        assert.equal(res.statusCode, 200, res.body);
        const { connections } = res.json();
        assert.deepEqual(Object.keys(res.json()), ["connections"]);
        assert.deepEqual(connections.map((c: { connection_id: string }) => c.connection_id), [a.connection_id, b.connection_id]);
        for (const c of connections) assertConnectionShape(c);
      });

      it("customer_id is required (422, loc query)", async () => {
        const res = await asConnectionsKey(t, await createTenant(t))("GET", "/connections");
        assert.equal(res.statusCode, 422, res.body);
        assert.deepEqual(res.json().detail, [{ loc: ["query", "customer_id"], msg: "Field required", type: "missing" }]);
      });
    });

    describe("POST /connections/{id}/token issues a short-lived token for one connection and scope", () => {
      it("answers 201 {connection_token} and records the issue (never the token) in the audit log", async () => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant);
        const res = await asConnectionsKey(t, tenant)("POST", `/connections/${c.connection_id}/token`, { scope: "access" });
        assert.equal(res.statusCode, 201, res.body);
        assert.deepEqual(Object.keys(res.json()), ["connection_token"]);
        assert.equal(res.headers["cache-control"], "no-store");
        const token = res.json().connection_token as string;
        const audit = await auditOf(c.connection_id);
        assert.equal(audit.at(-1)!.action, "connection.token_issued");
        assert.equal((audit.at(-1)!.changes as Record<string, { after: unknown }>).scope!.after, "access");
        assert.ok(!JSON.stringify(audit).includes(token));
        assert.ok(!t.logs.join("").includes(token), "the token is not logged");
      });

      it("scope must be link or access (422)", async () => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant);
        for (const body of [{}, { scope: "admin" }, { scope: "access", extra: 1 }]) {
          const res = await asConnectionsKey(t, tenant)("POST", `/connections/${c.connection_id}/token`, body);
          assert.equal(res.statusCode, 422, res.body);
        }
        const res = await asConnectionsKey(t, tenant)("POST", `/connections/${c.connection_id}/token`, { scope: "admin" });
        assert.deepEqual(res.json().detail, [{ loc: ["body", "scope"], msg: "Input should be 'link' or 'access'", type: "enum" }]);
      });

      it("an unknown connection is 404; a malformed id is 422 (loc path)", async () => {
        const call = asConnectionsKey(t, await createTenant(t));
        const missing = await call("POST", "/connections/01J51S0JYV6N7K1030CV1ZKSCA/token", { scope: "access" });
        assert.equal(missing.statusCode, 404);
        assertDetailString(missing.json());
        const bad = await call("POST", "/connections/not-a-ulid/token", { scope: "access" });
        assert.equal(bad.statusCode, 422);
        assert.deepEqual(bad.json().detail[0].loc, ["path", "connection_id"]);
      });
    });

    describe("GET/PATCH /connections/{id} need x-api-key and an access token for that very connection", () => {
      it("answers the connection with a valid key and access token; `Bearer:` with a colon works too", async () => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant);
        const token = await mintToken(t, tenant, c.connection_id, "access");
        const res = await asConnectionsKey(t, tenant)("GET", `/connections/${c.connection_id}`, undefined, { token });
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual(res.json(), c);
        const colon = await asConnectionsKey(t, tenant)("GET", `/connections/${c.connection_id}`, undefined, { headers: { authorization: `Bearer: ${token}` } });
        assert.equal(colon.statusCode, 200, colon.body);
      });

      it("no connection token → 401 with WWW-Authenticate: Bearer", async () => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant);
        for (const method of ["GET", "PATCH"] as const) {
          const res = await asConnectionsKey(t, tenant)(method, `/connections/${c.connection_id}`, method === "PATCH" ? { email: "x@example.com" } : undefined);
          assert.equal(res.statusCode, 401, res.body);
          assert.match(assertDetailString(res.json()), /No connection token/);
          assert.match(String(res.headers["www-authenticate"]), /^Bearer/);
        }
      });

      it("a link token cannot GET or PATCH (403)", async () => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant);
        const link = await mintToken(t, tenant, c.connection_id, "link");
        for (const method of ["GET", "PATCH"] as const) {
          const res = await asConnectionsKey(t, tenant)(method, `/connections/${c.connection_id}`, method === "PATCH" ? { status: "disconnected" } : undefined, { token: link });
          assert.equal(res.statusCode, 403, res.body);
          assert.match(assertDetailString(res.json()), /scope access/);
        }
        const after = await asConnectionsKey(t, tenant)("GET", `/connections/${c.connection_id}`, undefined, { token: await mintToken(t, tenant, c.connection_id, "access") });
        assert.equal(after.json().status, "initialized", "the refused PATCH changed nothing");
      });

      it("a token for connection A never opens connection B (403, no data)", async () => {
        const tenant = await createTenant(t);
        const a = await createConnection(t, tenant, { customer_id: "a" });
        const b = await createConnection(t, tenant, { customer_id: "b-secret-customer" });
        const tokenA = await mintToken(t, tenant, a.connection_id, "access");
        for (const method of ["GET", "PATCH"] as const) {
          const res = await asConnectionsKey(t, tenant)(method, `/connections/${b.connection_id}`, method === "PATCH" ? { email: "x@example.com" } : undefined, { token: tokenA });
          assert.equal(res.statusCode, 403, res.body);
          assert.ok(!res.body.includes("b-secret-customer"));
        }
      });

      it("another entity's connection is 404, whichever token is presented", async () => {
        const owner = await createTenant(t);
        const stranger = await createTenant(t);
        const c = await createConnection(t, owner, { customer_id: "owner-customer" });
        const ownersToken = await mintToken(t, owner, c.connection_id, "access");
        const mine = await createConnection(t, stranger);
        const strangersToken = await mintToken(t, stranger, mine.connection_id, "access");
        const viaOwnersToken = await asConnectionsKey(t, stranger)("GET", `/connections/${c.connection_id}`, undefined, { token: ownersToken });
        assert.equal(viaOwnersToken.statusCode, 404, viaOwnersToken.body);
        const viaOwnToken = await asConnectionsKey(t, stranger)("GET", `/connections/${c.connection_id}`, undefined, { token: strangersToken });
        assert.ok([403, 404].includes(viaOwnToken.statusCode), viaOwnToken.body);
        const mint = await asConnectionsKey(t, stranger)("POST", `/connections/${c.connection_id}/token`, { scope: "access" });
        assert.equal(mint.statusCode, 404);
        for (const res of [viaOwnersToken, viaOwnToken, mint]) assert.ok(!res.body.includes("owner-customer"));
      });

      it("tokens expire after 15 minutes (401)", async () => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant);
        const token = await mintToken(t, tenant, c.connection_id, "access");
        t.clock.advance(14 * 60_000);
        assert.equal((await asConnectionsKey(t, tenant)("GET", `/connections/${c.connection_id}`, undefined, { token })).statusCode, 200);
        t.clock.advance(60_000);
        const res = await asConnectionsKey(t, tenant)("GET", `/connections/${c.connection_id}`, undefined, { token });
        assert.equal(res.statusCode, 401, res.body);
        assert.match(assertDetailString(res.json()), /expired/);
      });

      it("forged, tampered and malformed tokens → 401", async () => {
        const tenant = await createTenant(t);
        const a = await createConnection(t, tenant);
        const b = await createConnection(t, tenant);
        const token = await mintToken(t, tenant, a.connection_id, "link");
        const [payload, sig] = token.slice("pbct_".length).split(".") as [string, string];
        const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
        const forged = (changes: object) => `pbct_${Buffer.from(JSON.stringify({ ...claims, ...changes })).toString("base64url")}.${sig}`;
        const cases = [
          forged({ s: "access" }),
          forged({ c: b.connection_id, s: "access" }),
          forged({ exp: claims.exp + 3_600_000 }),
          `${token.slice(0, -2)}AA`,
          "pbct_garbage",
          "ark_live_ent_notatoken",
          `pbct_${payload}`,
        ];
        for (const bad of cases) {
          const res = await asConnectionsKey(t, tenant)("GET", `/connections/${a.connection_id}`, undefined, { token: bad });
          assert.equal(res.statusCode, 401, `${bad}: ${res.body}`);
        }
      });
    });

    describe("PATCH /connections/{id} (seed 003)", () => {
      const setup = async (body: Record<string, unknown> = {}) => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant, { customer_id: "before", email: "old@example.com", mobile: "+15550000000", ...body });
        const token = await mintToken(t, tenant, c.connection_id, "access");
        const patch = (payload: unknown) => asConnectionsKey(t, tenant)("PATCH", `/connections/${c.connection_id}`, payload, { token });
        const get = () => asConnectionsKey(t, tenant)("GET", `/connections/${c.connection_id}`, undefined, { token });
        return { tenant, c, token, patch, get };
      };

      it("the seed's example request answers exactly the seed's response shape", async () => {
        const { c, token, tenant } = await setup();
        const res = await t.request({
          method: "PATCH",
          url: `/connections/${c.connection_id}`,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "x-api-key": tenant.key },
          payload: `
{
  "customer_id": "8a46e581-48ba-498a-9ad0-2ee72582e1af",
  "email": "john.doe@example.com",
  "mobile": "+1234567890",
  "status": "disconnected"
}
`,
        });
        assert.equal(res.statusCode, 200, res.body);
        assert.match(String(res.headers["content-type"]), /^application\/json/);
        const body = res.json();
        assertConnectionShape(body);
        assert.deepEqual(body, {
          connection_id: c.connection_id,
          customer_id: "8a46e581-48ba-498a-9ad0-2ee72582e1af",
          retailer_id: WALMART,
          status: "disconnected",
          email: "john.doe@example.com",
          mobile: "+1234567890",
        });
      });

      it("changes only the fields sent; null clears email and mobile; null customer_id and status change nothing", async () => {
        const { patch } = await setup();
        let res = await patch({ email: "new@example.com" });
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().email, "new@example.com");
        assert.equal(res.json().mobile, "+15550000000");
        res = await patch({ email: null, mobile: null, customer_id: null, status: null });
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().email, null);
        assert.equal(res.json().mobile, null);
        assert.equal(res.json().customer_id, "before");
        assert.equal(res.json().status, "initialized");
        res = await patch({});
        assert.equal(res.statusCode, 200, res.body);
        assertConnectionShape(res.json());
      });

      it("status can only be \"disconnected\" (422 otherwise); other fields are validated as on create", async () => {
        const { patch, get } = await setup();
        for (const status of ["active", "unauthenticated", "initialized", "gone"]) {
          const res = await patch({ status });
          assert.equal(res.statusCode, 422, res.body);
          assert.deepEqual(res.json().detail, [{ loc: ["body", "status"], msg: "Input should be 'disconnected'", type: "enum" }]);
        }
        const cases: [Record<string, unknown>, string][] = [
          [{ email: "nope" }, "body.email"],
          [{ mobile: "5550000000" }, "body.mobile"],
          [{ customer_id: "x".repeat(65) }, "body.customer_id"],
          [{ retailer_id: TARGET }, "body.retailer_id"],
          [{ connection_id: "01J51S0JYV6N7K1030CV1ZKSCA" }, "body.connection_id"],
        ];
        for (const [body, loc] of cases) {
          const res = await patch(body);
          assert.equal(res.statusCode, 422, `${JSON.stringify(body)}: ${res.body}`);
          assert.deepEqual(res.json().detail.map((d: { loc: string[] }) => d.loc.join(".")), [loc]);
        }
        assert.equal((await get()).json().email, "old@example.com", "nothing changed");
      });

      it("disconnecting is terminal: event once, audit, no re-linking; contact fields stay editable (decision)", async () => {
        const { c, tenant, patch, get } = await setup();
        let res = await patch({ status: "disconnected" });
        assert.equal(res.json().status, "disconnected");
        res = await patch({ status: "disconnected" });
        assert.equal(res.statusCode, 200, "repeating the disconnect is a no-op");
        res = await patch({ email: "after@example.com", customer_id: "renamed" });
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().status, "disconnected");
        assert.equal(res.json().email, "after@example.com");
        assert.equal((await get()).json().customer_id, "renamed");

        const events = await eventsOf(c.connection_id);
        assert.deepEqual(events.map((e) => e.type), ["connection.disconnected"]);
        assert.deepEqual(Object.keys(events[0]!.data).sort(), ["connection_id", "customer_id", "email", "mobile", "retailer_id", "status"]);
        const audit = await auditOf(c.connection_id);
        assert.deepEqual(audit.map((a) => a.action), ["connection.created", "connection.token_issued", "connection.disconnected", "connection.updated"]);
        assert.deepEqual((audit[2]!.changes as Record<string, unknown>).status, { before: "initialized", after: "disconnected" });

        const link = await asConnectionsKey(t, tenant)("POST", `/connections/${c.connection_id}/token`, { scope: "link" });
        assert.equal(link.statusCode, 409, link.body);
        assert.match(assertDetailString(link.json()), /disconnected/);
        const access = await asConnectionsKey(t, tenant)("POST", `/connections/${c.connection_id}/token`, { scope: "access" });
        assert.equal(access.statusCode, 201, "a disconnected connection can still be read");
        const simulated = await asConnectionsKey(t, tenant)("PATCH", `/simulated-connections/${c.connection_id}`, { status: "unauthenticated" });
        assert.equal(simulated.statusCode, 409);
      });

      it("an update without a status change writes an audit entry and no event", async () => {
        const { c, patch } = await setup();
        await patch({ mobile: "+15551112222" });
        assert.deepEqual(await eventsOf(c.connection_id), []);
        const audit = await auditOf(c.connection_id);
        assert.equal(audit.at(-1)!.action, "connection.updated");
        assert.deepEqual(audit.at(-1)!.changes, { mobile: { before: "+15550000000", after: "+15551112222" } });
      });
    });

    describe("PATCH /simulated-connections/{id} only takes an active connection to unauthenticated", () => {
      it("refuses an initialized connection (409), other statuses (422) and unknown ids (404)", async () => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant);
        const call = asConnectionsKey(t, tenant);
        const initialized = await call("PATCH", `/simulated-connections/${c.connection_id}`, { status: "unauthenticated" });
        assert.equal(initialized.statusCode, 409, initialized.body);
        assert.match(assertDetailString(initialized.json()), /initialized/);
        const active = await call("PATCH", `/simulated-connections/${c.connection_id}`, { status: "active" });
        assert.equal(active.statusCode, 422);
        const unknown = await call("PATCH", "/simulated-connections/01J51S0JYV6N7K1030CV1ZKSCA", { status: "unauthenticated" });
        assert.equal(unknown.statusCode, 404);
      });
    });

    describe("Idempotency-Key on POST and PATCH (SPEC §3), in this surface's error shape", () => {
      it("a retried POST /connections with the same key replays the stored answer and creates one connection", async () => {
        const tenant = await createTenant(t);
        const call = asConnectionsKey(t, tenant);
        const body = { customer_id: "idem-customer", retailer_id: WALMART };
        const first = await call("POST", "/connections", body, { headers: { "idempotency-key": "create-1" } });
        const again = await call("POST", "/connections", body, { headers: { "idempotency-key": "create-1" } });
        assert.equal(first.statusCode, 201, first.body);
        assert.equal(again.statusCode, 201);
        assert.equal(again.headers["idempotent-replayed"], "true");
        assert.equal(again.body, first.body);
        assert.equal((await call("GET", "/connections?customer_id=idem-customer")).json().connections.length, 1);

        const other = await call("POST", "/connections", { ...body, customer_id: "someone-else" }, { headers: { "idempotency-key": "create-1" } });
        assert.equal(other.statusCode, 409, other.body);
        assert.match(assertDetailString(other.json()), /already used for a different request/);
        const long = await call("POST", "/connections", body, { headers: { "idempotency-key": "k".repeat(256) } });
        assert.equal(long.statusCode, 400, long.body);
        assert.match(assertDetailString(long.json()), /at most 255/);
      });

      it("a retried PATCH replays even with a fresh access token; the token route refuses the header (its answer is a secret)", async () => {
        const tenant = await createTenant(t);
        const c = await createConnection(t, tenant);
        const call = asConnectionsKey(t, tenant);
        const first = await call("PATCH", `/connections/${c.connection_id}`, { status: "disconnected" }, { token: await mintToken(t, tenant, c.connection_id, "access"), headers: { "idempotency-key": "disc-1" } });
        const again = await call("PATCH", `/connections/${c.connection_id}`, { status: "disconnected" }, { token: await mintToken(t, tenant, c.connection_id, "access"), headers: { "idempotency-key": "disc-1" } });
        assert.equal(first.statusCode, 200, first.body);
        assert.equal(again.headers["idempotent-replayed"], "true");
        assert.equal(again.body, first.body);
        const noToken = await call("PATCH", `/connections/${c.connection_id}`, { status: "disconnected" }, { headers: { "idempotency-key": "disc-1" } });
        assert.equal(noToken.statusCode, 401, "a replay still needs the access token");

        const token = await call("POST", `/connections/${c.connection_id}/token`, { scope: "access" }, { headers: { "idempotency-key": "tok-1" } });
        assert.equal(token.statusCode, 400, token.body);
        assert.match(assertDetailString(token.json()), /does not accept an Idempotency-Key/);
      });
    });

    describe("per-key rate limits (SPEC §2) on this surface", () => {
      it("X-RateLimit-* on every answer; over the limit → 429 {detail} with Retry-After", async () => {
        const owner = await createTenant(t);
        const res = await t.admin("POST", `/admin/v1/entities/${owner.entityId}/api-keys`, { name: "slow", mode: "live", scopes: ["connections:read"], rate_limit: { per_minute: 3, burst: 3 } });
        assert.equal(res.statusCode, 201, res.body);
        const call = asConnectionsKey(t, { key: res.json().key });
        for (let i = 0; i < 3; i++) {
          const ok = await call("GET", "/retailers");
          assert.equal(ok.statusCode, 200);
          assert.equal(ok.headers["x-ratelimit-limit"], "3");
          assert.equal(ok.headers["x-ratelimit-remaining"], String(2 - i));
        }
        const refused = await call("GET", "/retailers");
        assert.equal(refused.statusCode, 429, refused.body);
        assert.match(assertDetailString(refused.json()), /^Rate limit exceeded\. Retry after \d+ seconds\.$/);
        assert.ok(Number(refused.headers["retry-after"]) >= 1);
      });
    });

    describe("unknown paths and methods under /connections answer in the surface's shape", () => {
      it("404 {detail:\"Not Found\"}", async () => {
        const call = asConnectionsKey(t, await createTenant(t));
        for (const [method, url] of [["GET", "/connections/01J51S0JYV6N7K1030CV1ZKSCA/nope"], ["GET", "/purchases/x/y"], ["GET", "/simulated-connections/x/y"]] as const) {
          const res = await call(method, url);
          assert.equal(res.statusCode, 404, `${method} ${url}`);
          assert.deepEqual(res.json(), { detail: "Not Found" });
        }
      });
      it("405 {detail:\"Method Not Allowed\"} with Allow for a method the path does not take", async () => {
        const call = asConnectionsKey(t, await createTenant(t));
        const res = await call("PUT", "/connections/01J51S0JYV6N7K1030CV1ZKSCA");
        assert.equal(res.statusCode, 405, res.body);
        assert.deepEqual(res.json(), { detail: "Method Not Allowed" });
        assert.match(String(res.headers.allow), /GET/);
      });
    });

    describe("every route passes the security battery", () => {
      const withConnection = async (app: TestApp, owner: Parameters<typeof createConnection>[1]) => {
        const c = await createConnection(app, owner);
        return { id: c.connection_id, token: await mintToken(app, owner, c.connection_id, "access") };
      };
      const routes = [
        { name: "GET /retailers", method: "GET" as const, url: () => "/retailers", scope: "connections:read" as const },
        { name: "POST /connections", method: "POST" as const, url: () => "/connections", payload: { customer_id: "c", retailer_id: WALMART }, scope: "connections:write" as const },
        { name: "GET /connections", method: "GET" as const, url: () => "/connections?customer_id=c", scope: "connections:read" as const },
        { name: "POST /connections/{id}/token", method: "POST" as const, url: (ctx: Record<string, string>) => `/connections/${ctx.id}/token`, payload: { scope: "access" }, scope: "connections:write" as const, setup: withConnection },
        { name: "GET /connections/{id}", method: "GET" as const, url: (ctx: Record<string, string>) => `/connections/${ctx.id}`, scope: "connections:read" as const, setup: withConnection },
        { name: "PATCH /connections/{id}", method: "PATCH" as const, url: (ctx: Record<string, string>) => `/connections/${ctx.id}`, payload: { email: "x@example.com" }, scope: "connections:write" as const, setup: withConnection },
        { name: "PATCH /simulated-connections/{id}", method: "PATCH" as const, url: (ctx: Record<string, string>) => `/simulated-connections/${ctx.id}`, payload: { status: "unauthenticated" }, scope: "connections:write" as const, setup: withConnection },
      ];
      for (const r of routes) runSecurityBattery(r.name, () => t, { ...r, surface: connectionsSurface });
    });
  });
}
