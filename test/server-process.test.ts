import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createTestDatabase, type TestDatabase } from "./helpers/databases.ts";
import { runCommand, startServerProcess, tempDir, type ServerProcess } from "./helpers/process.ts";

const ADMIN = "pb_admin_process_test_token_0123456789";

async function http(url: string, method: string, key: string, body?: unknown) {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe("the server as a process (npm start: scripts/start.mjs, the compiled bundle), on the embedded database", () => {
  let dataDir: string;
  let server: ServerProcess;
  before(async () => {
    dataDir = tempDir();
    // A fresh build, as after `npm ci`: the bundle carries the migrations and the console's files beside it.
    server = await startServerProcess({ PATCHBAY_DATA_DIR: dataDir, PATCHBAY_REBUILD: "true" }, 90_000, "scripts/start.mjs");
  });
  after(async () => {
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("generates an admin token on first start, prints it once, stores it 0600", async () => {
    const file = path.join(dataDir, "admin-token");
    const token = fs.readFileSync(file, "utf8").trim();
    assert.match(token, /^pb_admin_/);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.ok(server.stdout().includes(token), "printed on first start");
  });

  it("a second server on the same data dir refuses to start, saying why", async () => {
    const res = await runCommand(["--import", "tsx", "src/main.ts"], { PATCHBAY_DATA_DIR: dataDir, PORT: "0" });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /in use by process \d+/);
  });

  it("a newcomer's walk: CLI creates an entity and a live key, curl does POST, GET, PATCH, DELETE on stripe", async () => {
    const cli = (...args: string[]) => runCommand(["bin/patchbay.mjs", ...args, "--json"], { PATCHBAY_DATA_DIR: dataDir, PATCHBAY_URL: server.url });
    const entity = await cli("entities", "create", "--name", "Acme Inc");
    assert.equal(entity.code, 0, entity.stderr);
    const entityId = JSON.parse(entity.stdout).id;
    const key = await cli("keys", "create", "--entity", entityId, "--mode", "live", "--scopes", "integrations:read,integrations:write");
    assert.equal(key.code, 0, key.stderr);
    const secret = JSON.parse(key.stdout).key as string;
    assert.match(secret, /^ark_live_ent_/);

    const base = `${server.url}/v1/integrations/stripe`;
    const created = await http(base, "POST", secret, { config: { currency: "eur" } });
    assert.equal(created.status, 201);
    assert.equal(created.body.connector_type, "stripe");
    assert.equal((await http(base, "GET", secret)).body.data.id, created.body.id);
    const patched = await http(base, "PATCH", secret, { config: { capture_method: "manual" } });
    assert.deepEqual(patched.body.data.config, { currency: "eur", capture_method: "manual" });
    const deleted = await http(base, "DELETE", secret);
    assert.equal(deleted.body.data.is_active, false);

    const listed = await cli("keys", "list", "--entity", entityId);
    assert.ok(!listed.stdout.includes(secret), "listing keys never shows a secret");
    const revoked = await cli("keys", "revoke", JSON.parse(key.stdout).id);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal((await http(base, "GET", secret)).status, 401);
  });

  it("the CLI explains what to do when the server is not running", async () => {
    const res = await runCommand(["bin/patchbay.mjs", "entities", "list"], { PATCHBAY_DATA_DIR: dataDir, PATCHBAY_URL: "http://127.0.0.1:9" });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /Cannot reach Patchbay/);
    assert.match(res.stderr, /npm start/);
  });

  it("serves the OpenAPI 3.1 document and the interactive docs", async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    assert.equal(doc.openapi, "3.1.0");
    for (const p of ["/v1/integrations", "/v1/integrations/{connector_type}", "/v1/integrations/catalog", "/admin/v1/entities", "/admin/v1/entities/{entity_id}/api-keys", "/admin/v1/api-keys/{id}"]) {
      assert.ok(doc.paths[p], `openapi lacks ${p}`);
    }
    assert.deepEqual(Object.keys(doc.paths["/v1/integrations/{connector_type}"]!).sort(), ["delete", "get", "patch", "post"]);
    const docs = await fetch(`${server.url}/docs/`);
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /swagger/i);
    for (const [file, type] of [["/console", /text\/html/], ["/console/app.js", /javascript/], ["/console/console.css", /text\/css/]] as const) {
      const res = await fetch(`${server.url}${file}`);
      assert.equal(res.status, 200, file);
      assert.match(String(res.headers.get("content-type")), type);
    }
  });

  it("does not print the admin token again on the next start", async () => {
    await server.stop();
    server = await startServerProcess({ PATCHBAY_DATA_DIR: dataDir });
    assert.ok(!server.stdout().includes("pb_admin_"));
  });
});

describe("configuration is validated at start", () => {
  for (const [name, value] of [["PORT", "eighty"], ["DATABASE_URL", "mysql://x"], ["LOG_LEVEL", "loud"], ["PATCHBAY_ADMIN_TOKEN", "short"], ["PATCHBAY_RECOVERY_DAYS", "0"]] as const) {
    it(`a bad ${name} stops the server with a message naming it`, async () => {
      const dataDir = tempDir();
      const res = await runCommand(["--import", "tsx", "src/main.ts"], { PATCHBAY_DATA_DIR: dataDir, [name]: value });
      fs.rmSync(dataDir, { recursive: true, force: true });
      assert.equal(res.code, 1);
      assert.match(res.stderr, new RegExp(`configuration error: ${name}`));
    });
  }
});

describe("the server as a process on PostgreSQL (DATABASE_URL)", () => {
  let database: TestDatabase;
  let server: ServerProcess;
  let dataDir: string;
  before(async () => {
    database = await createTestDatabase("postgres");
    dataDir = tempDir();
    server = await startServerProcess({
      DATABASE_URL: database.url!,
      PATCHBAY_ADMIN_TOKEN: ADMIN,
      PATCHBAY_MASTER_KEYS: `k1:${randomBytes(32).toString("base64")}`,
      PATCHBAY_DATA_DIR: dataDir,
    });
  });
  after(async () => {
    await server.stop();
    await database.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("answers /healthz and serves the API on PostgreSQL", async () => {
    const entity = await http(`${server.url}/admin/v1/entities`, "POST", ADMIN, { name: "PG Inc" });
    assert.equal(entity.status, 201);
    const key = await http(`${server.url}/admin/v1/entities/${entity.body.id}/api-keys`, "POST", ADMIN, { name: "k", mode: "live", scopes: ["integrations:write", "integrations:read"] });
    const created = await http(`${server.url}/v1/integrations/postmark`, "POST", key.body.key);
    assert.equal(created.status, 201);
    const rows = await database.db.selectFrom("connectors").select("connector_type").execute();
    assert.deepEqual(rows.map((r) => r.connector_type), ["postmark"]);
  });

  it("a key revoked by another process is refused by this one within 1 s (PATCHBAY_CACHE_TTL_MS; announced at commit, README Revocation)", async () => {
    const entity = await http(`${server.url}/admin/v1/entities`, "POST", ADMIN, { name: "Revoke Inc" });
    const key = await http(`${server.url}/admin/v1/entities/${entity.body.id}/api-keys`, "POST", ADMIN, { name: "k", mode: "live", scopes: ["integrations:read"] });
    assert.equal((await http(`${server.url}/v1/integrations`, "GET", key.body.key)).status, 200);
    // Revoke straight in the shared database, as another Patchbay process would.
    await database.db.updateTable("api_keys").set({ revoked_at: new Date() }).where("id", "=", key.body.id).execute();
    const started = performance.now();
    let status = 0;
    while ((status = (await http(`${server.url}/v1/integrations`, "GET", key.body.key)).status) !== 401 && performance.now() - started <= 1000) await new Promise((r) => setTimeout(r, 10));
    assert.equal(status, 401, `still admitted ${Math.round(performance.now() - started)} ms after the revocation`);
  });
});
