import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { asKey, createTenant } from "./helpers/fixtures.ts";

// POST /admin/v1/api-keys/{id}/roll: a new secret at once, the old one valid
// for the chosen overlap (the console's Developers › API keys › Roll).
for (const kind of DB_KINDS) {
  describe(`[${kind}] rolling an API key`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(async () => t.close());

    it("gives a new secret with the same name, mode, scopes and limit; the old one works until the overlap ends", async () => {
      const tenant = await createTenant(t, { mode: "test", scopes: ["integrations:read"] });
      const res = await t.admin("POST", `/admin/v1/api-keys/${tenant.keyId}/roll`, { overlap_seconds: 3600 });
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(res.headers["cache-control"], "no-store");
      const rolled = res.json();
      assert.notEqual(rolled.id, tenant.keyId);
      assert.match(rolled.key, /^ark_test_ent_/);
      assert.notEqual(rolled.key, tenant.key);
      assert.deepEqual([rolled.name, rolled.mode, rolled.scopes, rolled.revoked_at], ["test key", "test", ["integrations:read"], null]);

      const oldKey = asKey(t, tenant);
      const newKey = asKey(t, { key: rolled.key });
      assert.equal((await oldKey("GET", "/v1/integrations/catalog")).statusCode, 200);
      assert.equal((await newKey("GET", "/v1/integrations/catalog")).statusCode, 200);
      const listed = (await t.admin("GET", `/admin/v1/entities/${tenant.entityId}/api-keys`)).json().data as { id: string; revoked_at: string | null }[];
      // The old key ends an hour after the roll (the new key's creation); the test clock ticks a millisecond per reading.
      const ends = Date.parse(listed.find((k) => k.id === tenant.keyId)!.revoked_at!) - Date.parse(rolled.created_at);
      assert.ok(Math.abs(ends - 3600_000) <= 5, String(ends));

      t.clock.advance(3600_000 + 1);
      assert.equal((await oldKey("GET", "/v1/integrations/catalog")).statusCode, 401);
      assert.equal((await newKey("GET", "/v1/integrations/catalog")).statusCode, 200);

      const audit = (await t.admin("GET", `/admin/v1/entities/${tenant.entityId}/audit_events?target_id=${tenant.keyId}`)).json().data as { action: string; changes: Record<string, unknown> }[];
      const event = audit.find((e) => e.action === "api_key.rolled")!;
      assert.deepEqual(event.changes.replaced_by, { before: null, after: rolled.id });
      assert.ok(!JSON.stringify(audit).includes(rolled.key));
    });

    it("overlap 0 stops the old secret at once; revoking during an overlap ends it at once too", async () => {
      const a = await createTenant(t);
      const r0 = await t.admin("POST", `/admin/v1/api-keys/${a.keyId}/roll`, { overlap_seconds: 0 });
      assert.equal(r0.statusCode, 201);
      assert.equal((await asKey(t, a)("GET", "/v1/integrations/catalog")).statusCode, 401);

      const b = await createTenant(t);
      assert.equal((await t.admin("POST", `/admin/v1/api-keys/${b.keyId}/roll`, { overlap_seconds: 86_400 })).statusCode, 201);
      assert.equal((await asKey(t, b)("GET", "/v1/integrations/catalog")).statusCode, 200);
      const revoked = await t.admin("DELETE", `/admin/v1/api-keys/${b.keyId}`);
      assert.equal(revoked.statusCode, 200);
      assert.ok(Math.abs(Date.parse(revoked.json().data.revoked_at) - t.clock.now().getTime()) <= 5);
      assert.equal((await asKey(t, b)("GET", "/v1/integrations/catalog")).statusCode, 401);
    });

    it("a rolled or revoked key cannot be rolled (409), an unknown one is 404, a bad overlap is 400", async () => {
      const tenant = await createTenant(t);
      assert.equal((await t.admin("POST", `/admin/v1/api-keys/${tenant.keyId}/roll`, { overlap_seconds: 60 })).statusCode, 201);
      const again = await t.admin("POST", `/admin/v1/api-keys/${tenant.keyId}/roll`, { overlap_seconds: 60 });
      assert.equal(again.statusCode, 409, again.body);
      assert.equal(again.json().code, "api_key_revoked");
      assert.ok(again.json().hint);
      const unknown = await t.admin("POST", "/admin/v1/api-keys/01a230fd-a42a-7006-83ef-420201864f3c/roll", { overlap_seconds: 60 });
      assert.equal(unknown.statusCode, 404);
      for (const body of [{}, { overlap_seconds: -1 }, { overlap_seconds: 604_801 }, { overlap_seconds: 1.5 }, { overlap_seconds: 60, extra: 1 }]) {
        const bad = await t.admin("POST", `/admin/v1/api-keys/${tenant.keyId}/roll`, body);
        assert.equal(bad.statusCode, 400, JSON.stringify(body));
        assert.equal(bad.json().type, "validation_error");
      }
    });
  });
}
