import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { after, before, describe, it } from "node:test";
import { ensureCliBuilt } from "../scripts/build-cli.mjs";
import { lockDataDir } from "../src/db/data-dir-lock.ts";
import { startTestApp } from "./helpers/app.ts";
import { asKey, createTenant } from "./helpers/fixtures.ts";
import { startFakeProvider, type FakeProvider } from "./helpers/fake-provider.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const SECRET = "sk_live_backup_roundtrip_0042";

function patchbay(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, "bin", "patchbay.mjs"), ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe("[pglite] patchbay backup and restore (the embedded database)", () => {
  let stripe: FakeProvider;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "patchbay-backup-test-"));
  before(async () => {
    await ensureCliBuilt();
    stripe = await startFakeProvider({ "GET /v1/balance": (req) => ({ status: 200, body: { object: "balance", authorized: req.headers.authorization === `Bearer ${SECRET}` } }) });
  });
  after(async () => {
    await stripe.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("backs up a data dir (refused while a server holds it), restores it into a new one, and the sealed credential and the proxied call read back", async () => {
    const env = { PATCHBAY_PROVIDER_URL_STRIPE: stripe.url };
    const source = await startTestApp("pglite", { embeddedOnDisk: true, env });
    const oldDir = source.dataDir;
    const tenant = await createTenant(source);
    const v1 = asKey(source, tenant);
    assert.equal((await v1("POST", "/v1/integrations/stripe", { mode: "live" })).statusCode, 201);
    assert.equal((await v1("PUT", "/v1/integrations/stripe/credentials", { secret_key: SECRET })).statusCode, 200);
    const proxied = await v1("GET", "/v1/integrations/stripe/proxy/v1/balance");
    assert.deepEqual(proxied.json(), { object: "balance", authorized: true });
    // The call is logged once its answer has streamed through (just after the response): wait for its row.
    const deadline = Date.now() + 5_000;
    while ((await v1("GET", "/v1/integrations/stripe/logs")).json().data.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await v1("GET", "/v1/integrations/stripe/logs")).json().data.length, 1);
    // The server's own shutdown: the logs' buffers written, the database closed, the data dir kept.
    await source.app.close();
    await source.database.close();
    const masterKey = fs.readFileSync(path.join(oldDir, "master-key"), "utf8").trim();

    const file = path.join(tmp, "patchbay.tar.gz");
    const cli = { PATCHBAY_DATA_DIR: oldDir };
    // A server holding the data dir (here: this process claims it, as src/main.ts does): a clear refusal, nothing written.
    const unlock = lockDataDir(oldDir);
    const refused = await patchbay(["backup", "--out", file], cli);
    unlock();
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /Refusing to backup: The embedded database in .* is in use by process \d+/);
    assert.match(refused.stderr, /Stop the server/);
    assert.equal(fs.existsSync(file), false);

    const backup = await patchbay(["backup", "--out", file, "--json"], cli);
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stderr, /warning: the master key is NOT in this backup/);
    const result = JSON.parse(backup.stdout);
    assert.equal(result.file, file);
    assert.match(result.migration, /^\d{4}_/);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const tar = gunzipSync(fs.readFileSync(file)).toString("latin1");
    assert.equal(tar.includes(masterKey.split(":")[1]!), false, "the master key is in the backup");
    assert.equal(tar.includes(SECRET), false, "a credential is in the backup unsealed");
    // An existing file is not overwritten without --force.
    assert.equal((await patchbay(["backup", "--out", file], cli)).code, 2);

    const newDir = path.join(tmp, "restored");
    const restored = await patchbay(["restore", file], { PATCHBAY_DATA_DIR: newDir });
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stderr, /put the old one back: copy the master-key file/);
    // Restore never overwrites a database.
    const again = await patchbay(["restore", file], { PATCHBAY_DATA_DIR: newDir });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already holds an embedded database/);
    const junk = path.join(tmp, "junk.tar.gz");
    fs.writeFileSync(junk, "not a backup");
    assert.equal((await patchbay(["restore", junk], { PATCHBAY_DATA_DIR: path.join(tmp, "other") })).code, 1);

    // The documented last step: the master key goes back beside the restored database.
    fs.copyFileSync(path.join(oldDir, "master-key"), path.join(newDir, "master-key"));
    fs.rmSync(oldDir, { recursive: true, force: true });
    const copy = await startTestApp("pglite", { dataDir: newDir, env });
    try {
      const again1 = asKey(copy, tenant);
      const row = (await again1("GET", "/v1/integrations/stripe")).json().data;
      assert.equal(row.has_credentials_secret_arn, true);
      assert.deepEqual(row.credentials_masked, ["secret_key"]);
      const logged = (await again1("GET", "/v1/integrations/stripe/logs")).json().data;
      assert.deepEqual(logged.map((c: { method: string; path: string; status: number }) => `${c.method} ${c.path} ${c.status}`), ["GET /v1/balance 200"]);
      // The sealed credential opens with the restored key: the provider sees it.
      assert.deepEqual((await again1("GET", "/v1/integrations/stripe/proxy/v1/balance")).json(), { object: "balance", authorized: true });
    } finally {
      await copy.close();
    }
  });

  it("refuses PostgreSQL with the pg_dump pointer, and a missing --out is a usage error", async () => {
    const pg = await patchbay(["backup", "--out", path.join(tmp, "x.tar.gz")], { DATABASE_URL: "postgres://postgres@127.0.0.1:5432/none", PATCHBAY_DATA_DIR: tmp });
    assert.equal(pg.code, 1);
    assert.match(pg.stderr, /pg_dump/);
    assert.equal((await patchbay(["backup"], { PATCHBAY_DATA_DIR: tmp })).code, 2);
  });
});
