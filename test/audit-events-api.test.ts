import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { ADMIN_TOKEN, startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { asKey, createTenant, type Tenant } from "./helpers/fixtures.ts";
import { runCommand } from "./helpers/process.ts";
import { bearerSurface, runSecurityBattery } from "./helpers/security-battery.ts";

const ITEM_FIELDS = ["action", "actor", "changes", "created_at", "id", "object", "request_id", "target"];

for (const kind of DB_KINDS) {
  describe(`[${kind}] GET /v1/audit_events and npx patchbay audit`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(async () => t.close());

    /** A tenant with a known history: the key, then stripe created and patched three times, then postmark created. */
    async function tenantWithHistory(): Promise<{ tenant: Tenant; stripeId: string; call: ReturnType<typeof asKey> }> {
      const tenant = await createTenant(t);
      const call = asKey(t, tenant);
      const stripeId = (await call("POST", "/v1/integrations/stripe")).json().id as string;
      for (const name of ["One", "Two", "Three"]) assert.equal((await call("PATCH", "/v1/integrations/stripe", { display_name: name })).statusCode, 200);
      assert.equal((await call("POST", "/v1/integrations/postmark")).statusCode, 201);
      return { tenant, stripeId, call };
    }

    describe("the list (SPEC §2 list shape, newest first)", () => {
      it("answers {object:list, data, has_more, url}; items carry exactly the documented fields", async () => {
        const { tenant, stripeId, call } = await tenantWithHistory();
        const res = await call("GET", "/v1/audit_events");
        assert.equal(res.statusCode, 200, res.body);
        const body = res.json();
        assert.equal(body.object, "list");
        assert.equal(body.url, "/v1/audit_events");
        assert.equal(body.has_more, false);
        assert.deepEqual(
          body.data.map((e: { action: string }) => e.action),
          ["connector.created", "connector.updated", "connector.updated", "connector.updated", "connector.created", "api_key.created", "entity.created"],
        );
        const [latestPatch] = body.data.filter((e: { action: string }) => e.action === "connector.updated");
        assert.deepEqual(Object.keys(latestPatch).sort(), ITEM_FIELDS);
        assert.equal(latestPatch.object, "audit_event");
        assert.deepEqual(latestPatch.actor, { type: "api_key", id: tenant.keyId });
        assert.deepEqual(latestPatch.target, { type: "connector", id: stripeId });
        assert.deepEqual(latestPatch.changes, { display_name: { before: "Two", after: "Three" } });
        assert.match(latestPatch.request_id, /^req_/);
        assert.match(latestPatch.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.deepEqual(body.data.at(-1).actor, { type: "admin", id: null });
        assert.equal(res.headers["x-ratelimit-limit"], "300", "rate limited like every /v1 route");
      });

      it("pages with limit, starting_after (older) and ending_before (newer)", async () => {
        const { call } = await tenantWithHistory();
        const all = (await call("GET", "/v1/audit_events?limit=100")).json().data.map((e: { id: string }) => e.id);
        assert.equal(all.length, 7);
        const p1 = (await call("GET", "/v1/audit_events?limit=3")).json();
        assert.equal(p1.has_more, true);
        const p2 = (await call("GET", `/v1/audit_events?limit=3&starting_after=${p1.data[2].id}`)).json();
        const p3 = (await call("GET", `/v1/audit_events?limit=3&starting_after=${p2.data[2].id}`)).json();
        assert.equal(p3.has_more, false);
        assert.deepEqual([...p1.data, ...p2.data, ...p3.data].map((e: { id: string }) => e.id), all);
        const back = (await call("GET", `/v1/audit_events?limit=3&ending_before=${p3.data[0].id}`)).json();
        assert.deepEqual(back.data.map((e: { id: string }) => e.id), all.slice(3, 6));
        assert.equal(back.has_more, true);
        const defaults = (await call("GET", "/v1/audit_events")).json();
        assert.equal(defaults.data.length, 7, "limit defaults to 20");
      });

      it("filters by target_type, target_id and created_gte/created_lte (inclusive)", async () => {
        const tenant = await createTenant(t);
        const call = asKey(t, tenant);
        const stripeId = (await call("POST", "/v1/integrations/stripe")).json().id as string;
        t.clock.advance(3_600_000);
        const middle = t.clock.now();
        await call("PATCH", "/v1/integrations/stripe", { display_name: "Later" });
        const postmarkId = (await call("POST", "/v1/integrations/postmark")).json().id as string;
        t.clock.advance(3_600_000);
        await call("PATCH", "/v1/integrations/postmark", { display_name: "Latest" });

        const ids = async (qs: string) => {
          const res = await call("GET", `/v1/audit_events?${qs}`);
          assert.equal(res.statusCode, 200, res.body);
          return res.json().data.map((e: { action: string; target: { id: string } }) => `${e.action}:${e.target.id === stripeId ? "stripe" : e.target.id === postmarkId ? "postmark" : "other"}`);
        };
        assert.deepEqual(await ids(`target_type=connector&target_id=${stripeId}`), ["connector.updated:stripe", "connector.created:stripe"]);
        assert.deepEqual(await ids("target_type=api_key"), ["api_key.created:other"]);
        assert.deepEqual(await ids(`target_id=${postmarkId}`), ["connector.updated:postmark", "connector.created:postmark"]);
        assert.deepEqual(await ids(`created_gte=${middle.toISOString()}&created_lte=${new Date(middle.getTime() + 60_000).toISOString()}`), [
          "connector.created:postmark",
          "connector.updated:stripe",
        ]);
        const offset = middle.toISOString().replace("Z", "+00:00");
        assert.equal((await ids(`created_gte=${encodeURIComponent(offset)}&target_type=connector`)).length, 3, "any RFC 3339 zone");
        assert.deepEqual(await ids("target_type=webhook_endpoint"), []);
      });

      it("another entity's entries are never listed, whatever the filter", async () => {
        const { stripeId } = await tenantWithHistory();
        const stranger = asKey(t, await createTenant(t));
        const res = (await stranger("GET", `/v1/audit_events?target_id=${stripeId}`)).json();
        assert.deepEqual(res.data, []);
        const own = (await stranger("GET", "/v1/audit_events")).json().data;
        assert.ok(own.every((e: { target: { id: string } }) => e.target.id !== stripeId));
      });

      it("bad input → 400 validation_failed in the /v1 error shape, naming the param", async () => {
        const call = asKey(t, await createTenant(t));
        for (const [qs, param] of [
          ["limit=0", "limit"],
          ["limit=101", "limit"],
          ["limit=ten", "limit"],
          ["starting_after=nope", "starting_after"],
          ["ending_before=123", "ending_before"],
          ["created_gte=yesterday", "created_gte"],
          ["created_lte=2025-01-01", "created_lte"],
          ["created_gte=2025-01-01T00:00:00", "created_gte"],
          ["target_type=Connector!", "target_type"],
          ["colour=red", "colour"],
        ] as const) {
          const res = await call("GET", `/v1/audit_events?${qs}`);
          assert.equal(res.statusCode, 400, `${qs}: ${res.body}`);
          const body = res.json();
          assert.equal(body.code, "validation_failed", qs);
          assert.equal(body.type, "validation_error");
          assert.equal(body.param, param, qs);
          assert.equal(typeof body.request_id, "string");
        }
      });

      it("is in /openapi.json with its query parameters", async () => {
        const doc = (await t.request({ method: "GET", url: "/openapi.json" })).json();
        const op = doc.paths["/v1/audit_events"].get;
        assert.deepEqual(op.parameters.map((p: { name: string }) => p.name).sort(), ["created_gte", "created_lte", "ending_before", "include_count", "limit", "starting_after", "target_id", "target_type"]);
        assert.ok(op.responses["200"] && op.responses["403"]);
        assert.ok(doc.paths["/admin/v1/entities/{entity_id}/audit_events"].get);
      });
    });

    describe("security battery", () => {
      runSecurityBattery("GET /v1/audit_events", () => t, { method: "GET", scope: "audit:read", url: () => "/v1/audit_events", surface: bearerSurface });
    });

    describe("GET /admin/v1/entities/{id}/audit_events", () => {
      it("answers the same list for the operator; an unknown entity → 404; the admin token is required", async () => {
        const { tenant, call } = await tenantWithHistory();
        const asEntity = (await call("GET", "/v1/audit_events?limit=4")).json();
        const res = await t.admin("GET", `/admin/v1/entities/${tenant.entityId}/audit_events?limit=4`);
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual(res.json().data, asEntity.data);
        assert.equal(res.json().has_more, true);
        assert.equal(res.json().url, `/admin/v1/entities/${tenant.entityId}/audit_events`);
        const bad = await t.admin("GET", `/admin/v1/entities/${tenant.entityId}/audit_events?created_gte=soon`);
        assert.equal(bad.statusCode, 400);
        assert.equal(bad.json().param, "created_gte");
        const missing = await t.admin("GET", "/admin/v1/entities/0190a5a0-0000-7000-8000-000000000000/audit_events");
        assert.equal(missing.statusCode, 404);
        assert.equal(missing.json().code, "entity_not_found");
        const withKey = await t.request({ method: "GET", url: `/admin/v1/entities/${tenant.entityId}/audit_events`, headers: { authorization: `Bearer ${tenant.key}` } });
        assert.equal(withKey.statusCode, 401);
      });
    });

    describe("npx patchbay audit", () => {
      let url: string;
      before(async () => {
        await t.app.listen({ host: "127.0.0.1", port: 0 });
        url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
      });
      const cli = (args: string[]) => runCommand(["--import", "tsx", "src/cli/index.ts", "audit", ...args, "--url", url, "--admin-token", ADMIN_TOKEN], {});

      it("prints the entity's log as a table, newest first; --json for scripts; filters and --limit", async () => {
        const { tenant, stripeId } = await tenantWithHistory();
        const human = await cli(["--entity", tenant.entityId]);
        assert.equal(human.code, 0, human.stderr);
        const lines = human.stdout.trim().split("\n");
        assert.match(lines[0]!, /^CREATED_AT\s+ACTOR\s+ACTION\s+TARGET\s+CHANGES$/);
        assert.equal(lines.length, 8);
        // The table fits 100 columns (issue 20): long cells end in "…"; --json has them whole.
        for (const line of lines) assert.ok(line.length <= 100, `${line.length} columns: ${line}`);
        assert.match(lines[1]!, /api_key:\S+\s+connector\.created\s+connector:\S+\s+mode: null → /);
        assert.match(lines[2]!, /connector\.updated\s+connector:\S+\s+display_name: /);
        assert.match(lines.at(-1)!, /\sadmin\s+entity\.created\s+entity:/);

        const json = await cli(["--entity", tenant.entityId, "--target-type", "connector", "--target-id", stripeId, "--limit", "2", "--json"]);
        assert.equal(json.code, 0, json.stderr);
        const page = JSON.parse(json.stdout);
        assert.equal(page.has_more, true);
        assert.deepEqual(page.data.map((e: { action: string }) => e.action), ["connector.updated", "connector.updated"]);

        const more = await cli(["--entity", tenant.entityId, "--limit", "2"]);
        assert.match(more.stdout, /\(more entries: add --starting-after [0-9a-f-]{36}\)/);
        const recent = await cli(["--entity", tenant.entityId, "--since", "2999-01-01T00:00:00Z"]);
        assert.equal(recent.code, 0, recent.stderr);
        assert.equal(recent.stdout.trim(), "(none)");
        const lastDay = await cli(["--entity", tenant.entityId, "--since", "24h", "--json"]);
        assert.equal(JSON.parse(lastDay.stdout).data.length, 7);
      });

      it("explains what is wrong: no --entity, a bad --since or --limit, an unknown entity (exit 1)", async () => {
        const none = await cli([]);
        assert.equal(none.code, 1);
        assert.match(none.stderr, /audit needs --entity/);
        const since = await cli(["--entity", "0190a5a0-0000-7000-8000-000000000000", "--since", "last week"]);
        assert.equal(since.code, 1);
        assert.match(since.stderr, /--since needs a time/);
        const limit = await cli(["--entity", "0190a5a0-0000-7000-8000-000000000000", "--limit", "500"]);
        assert.equal(limit.code, 1);
        assert.match(limit.stderr, /--limit needs a whole number from 1 to 100/);
        const unknown = await cli(["--entity", "0190a5a0-0000-7000-8000-000000000000"]);
        assert.equal(unknown.code, 1);
        assert.match(unknown.stderr, /No entity with id/);
      });
    });
  });
}
