import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { parseMasterKeys } from "../src/config.ts";
import { createServices } from "../src/compose.ts";
import { KeyRing } from "../src/vault/envelope.ts";
import { createVault } from "../src/vault/vault.ts";
import { ADMIN_TOKEN, startTestApp, type TestApp } from "./helpers/app.ts";
import { asKey, createTenant } from "./helpers/fixtures.ts";
import { DB_KINDS } from "./helpers/databases.ts";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const run = promisify(execFile);

/** Runs `npx patchbay …` (src/cli) as its own process with only the given environment. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const emptyDir = fs.mkdtempSync(path.join(os.tmpdir(), "patchbay-cli-"));
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", "src/cli/index.ts", ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", HOME: emptyDir, PATCHBAY_DATA_DIR: emptyDir, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  } finally {
    fs.rmSync(emptyDir, { recursive: true, force: true });
  }
}

describe("npx patchbay master-key new", () => {
  it("prints a new key entry, needing neither a server nor an admin token", async () => {
    const res = await cli(["master-key", "new"]);
    assert.equal(res.code, 0, res.stderr);
    const entry = /^\s+(mk-\S+:\S+)$/m.exec(res.stdout)?.[1];
    assert.ok(entry, res.stdout);
    assert.equal(parseMasterKeys(entry).length, 1);
    assert.match(res.stdout, /PATCHBAY_MASTER_KEYS="mk-/);
  });

  it("with a ring configured, says how to rotate, without printing the existing keys", async () => {
    const existing = `k1:${randomBytes(32).toString("base64")}`;
    const res = await cli(["master-key", "new", "--json"], { PATCHBAY_MASTER_KEYS: existing });
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout);
    assert.match(out.id, /^mk-/);
    assert.equal(parseMasterKeys(out.entry)[0]!.id, out.id);
    const human = await cli(["master-key", "new"], { PATCHBAY_MASTER_KEYS: existing });
    assert.match(human.stdout, /,\$PATCHBAY_MASTER_KEYS"/);
    assert.match(human.stdout, /vault rewrap/);
    assert.ok(!human.stdout.includes(existing.split(":")[1]!));
  });
});

for (const kind of DB_KINDS) {
  describe(`[${kind}] npx patchbay vault rewrap: online master-key rotation through the running server`, () => {
    let t: TestApp;
    let url: string;
    const k1 = `k1:${randomBytes(32).toString("base64")}`;
    const k2 = `k2:${randomBytes(32).toString("base64")}`;
    before(async () => {
      // The server already runs with the new key first and the old one after it.
      t = await startTestApp(kind, { env: { PATCHBAY_MASTER_KEYS: `${k2},${k1}` } });
      await t.app.listen({ host: "127.0.0.1", port: 0 });
      url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    });
    after(async () => t.close());

    it("shows progress, leaves every secret opening under the new key alone, and can run again", async () => {
      const tenant = await createTenant(t);
      const types = ["stripe", "postmark", "openai", "google", "mapquest"] as const;
      for (const type of types) assert.equal((await asKey(t, tenant)("POST", `/v1/integrations/${type}`)).statusCode, 201);
      // Sealed by a process that still had only the old key.
      const before = createServices({ db: t.database.db, clock: t.clock, config: t.config, keyRing: new KeyRing(parseMasterKeys(k1)) });
      const actor = await t.services.apiKeys.authenticate(tenant.key);
      await before.credentials.putCredentials(actor, "stripe", { secret_key: "sk_rotate" });
      await before.credentials.putCredentials(actor, "postmark", { server_token: "pm_rotate" });
      await before.credentials.putCredentials(actor, "openai", { api_key: "sk-rotate" });
      await before.credentials.putWebhookSecret(actor, "stripe", "whsec_rotate");
      await before.credentials.putCredentials(actor, "google", { api_key: "g_rotate" });

      const status = await cli(["vault", "status", "--url", url, "--admin-token", ADMIN_TOKEN]);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /k1\s+5\s+older/);

      const res = await cli(["vault", "rewrap", "--batch-size", "2", "--url", url, "--admin-token", ADMIN_TOKEN]);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stderr, /Rewrapping 5 secret\(s\) under master key k2/);
      assert.match(res.stderr, /2\/5 rewrapped, 3 remaining\n.*4\/5 rewrapped, 1 remaining\n.*5\/5 rewrapped, 0 remaining/);
      assert.match(res.stdout, /Done: 5 rewrapped/);
      assert.match(res.stdout, /older keys can be removed/);

      const newOnly = createVault({ db: t.database.db, ring: new KeyRing(parseMasterKeys(k2)), clock: t.clock });
      const rows = await t.database.db.selectFrom("connectors").selectAll().where("entity_id", "=", tenant.entityId).execute();
      const opened = await Promise.all(
        rows.filter((r) => r.credentials_secret_id).map((r) => newOnly.openSecret(t.database.db, { entityId: r.entity_id, ownerId: r.id, purpose: "connector.credentials" })),
      );
      assert.deepEqual(opened.map((o) => JSON.stringify(o)).sort(), ['{"api_key":"g_rotate"}', '{"api_key":"sk-rotate"}', '{"secret_key":"sk_rotate"}', '{"server_token":"pm_rotate"}']);

      const again = await cli(["vault", "rewrap", "--url", url, "--admin-token", ADMIN_TOKEN, "--json"]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(JSON.parse(again.stdout).rewrapped, 0, "nothing left to do");
      for (const out of [status, res, again]) assert.ok(!/sk_rotate|pm_rotate|whsec_rotate/.test(out.stdout + out.stderr));
    });

    it("the vault admin routes need the admin token and refuse bad batch sizes", async () => {
      for (const [method, route] of [["GET", "/admin/v1/vault"], ["POST", "/admin/v1/vault/rewrap"]] as const) {
        const none = await t.request({ method, url: route });
        assert.equal(none.statusCode, 401, none.body);
        assert.equal(none.json().code, "missing_admin_token");
        const bad = await t.request({ method, url: route, headers: { authorization: "Bearer not-the-admin-token-at-all" } });
        assert.equal(bad.statusCode, 401);
        assert.equal(bad.json().code, "invalid_admin_token");
        const apiKey = await createTenant(t);
        const asEntity = await t.request({ method, url: route, headers: { authorization: `Bearer ${apiKey.key}` } });
        assert.equal(asEntity.statusCode, 401, "an entity API key is not the admin token");
      }
      for (const batch_size of [0, 1001, "10", 1.5]) {
        const res = await t.admin("POST", "/admin/v1/vault/rewrap", { batch_size });
        assert.equal(res.statusCode, 400, `${batch_size}: ${res.body}`);
        assert.equal(res.json().code, "validation_failed");
      }
      const noBody = await t.request({ method: "POST", url: "/admin/v1/vault/rewrap", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      assert.equal(noBody.statusCode, 200, noBody.body);
      const status = await t.admin("GET", "/admin/v1/vault");
      assert.equal(status.json().newest_key_id, "k2");
      assert.deepEqual(status.json().configured_key_ids, ["k2", "k1"]);
      assert.ok(!status.body.includes(k1.split(":")[1]!) && !status.body.includes(k2.split(":")[1]!), "never key material");
    });

    it("secrets under a key the server lacks make status and rewrap fail loudly (exit 1)", async () => {
      const lost = `k0:${randomBytes(32).toString("base64")}`;
      const tenant = await createTenant(t);
      assert.equal((await asKey(t, tenant)("POST", "/v1/integrations/printnode")).statusCode, 201);
      const stale = createServices({ db: t.database.db, clock: t.clock, config: t.config, keyRing: new KeyRing(parseMasterKeys(lost)) });
      await stale.credentials.putCredentials(await t.services.apiKeys.authenticate(tenant.key), "printnode", { api_key: "pn_lost" });
      for (const args of [["vault", "status"], ["vault", "rewrap"]]) {
        const res = await cli([...args, "--url", url, "--admin-token", ADMIN_TOKEN]);
        assert.equal(res.code, 1, `${args.join(" ")}: ${res.stdout}`);
        assert.match(res.stderr, /1 secret\(s\) are sealed under master key\(s\) the server does not have: k0/);
        assert.match(res.stderr, /hint: Add those keys back/);
      }
    });
  });
}
