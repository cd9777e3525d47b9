import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import { CONNECTOR_TYPES, connectorDefinition } from "../src/catalog/index.ts";
import { FORBIDDEN_CREATE_FIELDS } from "../src/services/connectors.ts";
import { randomBase62 } from "../src/kernel/ids.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { asKey, createTenant, SHIP_FROM, type Tenant } from "./helpers/fixtures.ts";
import { DB_KINDS } from "./helpers/databases.ts";

/** The forms a leaked secret could take in storage. */
function forms(secret: string): Buffer[] {
  const b = Buffer.from(secret, "utf8");
  return [b, Buffer.from(b.toString("hex")), Buffer.from(b.toString("base64").slice(0, -4)), Buffer.from(secret, "utf16le")];
}

function hits(haystack: Buffer | string, secret: string): boolean {
  const buf = typeof haystack === "string" ? Buffer.from(haystack, "utf8") : haystack;
  return forms(secret).some((f) => buf.includes(f));
}

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : e.isFile() ? [p] : [];
  });
}

/** Every row of every table, each value rendered as text (bytea both as hex and raw bytes). */
async function dumpDatabase(t: TestApp): Promise<{ tables: string[]; dump: Buffer }> {
  const { rows } = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`.execute(t.database.db);
  const parts: Buffer[] = [];
  for (const { table_name } of rows) {
    const data = await sql<Record<string, unknown>>`select * from ${sql.table(table_name)}`.execute(t.database.db);
    for (const row of data.rows) {
      for (const value of Object.values(row)) {
        if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
          parts.push(Buffer.from(value), Buffer.from(Buffer.from(value).toString("hex")));
        } else {
          parts.push(Buffer.from(JSON.stringify(value) ?? "null"));
        }
      }
    }
  }
  return { tables: rows.map((r) => r.table_name), dump: Buffer.concat(parts) };
}

for (const kind of DB_KINDS) {
  describe(`[${kind}] no secret leaks: responses, headers, logs, database, data dir`, () => {
    let t: TestApp;
    // Unique per run: a hit can only come from this test's planting.
    const SECRET = `pbleak${randomBase62(28)}`;
    // A control planted in a field that is NOT secret: the scans must find it, which proves they can see.
    const CONTROL = `pbctrl${randomBase62(28)}`;
    let tenant: Tenant;
    let n = 0;
    const write = (method: "POST" | "PUT" | "PATCH" | "DELETE", url: string, payload?: unknown, headers: Record<string, string> = {}) =>
      asKey(t, tenant)(method, url, payload, { "idempotency-key": `leak-${++n}`, ...headers });

    before(async () => {
      // Many writes through one key: lift the rate limit so every route is exercised.
      t = await startTestApp(kind, { env: { LOG_LEVEL: "trace", PATCHBAY_RATE_LIMIT_LIVE_PER_MINUTE: "100000", PATCHBAY_RATE_LIMIT_LIVE_BURST: "100000" }, embeddedOnDisk: true });
      tenant = await createTenant(t);
    });
    after(async () => {
      if (fs.existsSync(t.dataDir)) fs.rmSync(t.dataDir, { recursive: true, force: true });
    });

    it("plants a unique secret through every write route, then finds it nowhere but sealed", async () => {
      // Secrets where they are refused: forbidden POST fields, PATCH fields, bad credential bodies.
      for (const field of FORBIDDEN_CREATE_FIELDS) {
        assert.equal((await write("POST", "/v1/integrations/stripe", { [field]: `${SECRET}-post-${field}` })).statusCode, 422);
      }
      assert.equal((await write("POST", "/v1/integrations/stripe", { display_name: CONTROL, config: { currency: "usd" } })).statusCode, 201);
      for (const field of ["credentials", "webhook_secret", "api_key", "secret"]) {
        assert.equal((await write("PATCH", "/v1/integrations/stripe", { [field]: `${SECRET}-patch` })).statusCode, 400);
      }
      const badCredentialBodies: [unknown, string?][] = [
        [{ secret_key: `${SECRET}-1`, password: `${SECRET}-unknown-key` }],
        [{ publishable_key: `${SECRET}-missing-required` }],
        [{ secret_key: { nested: `${SECRET}-nested` } }],
        [{ secret_key: [`${SECRET}-array`] }],
        [{ secret_key: `${SECRET}-too-long-`.repeat(1000) }],
        [`{"secret_key": "${SECRET}-malformed"`, "application/json"],
        [`secret_key=${SECRET}-form`, "application/x-www-form-urlencoded"],
      ];
      for (const [body, type] of badCredentialBodies) {
        const res = await write("PUT", "/v1/integrations/stripe/credentials", body, type ? { "content-type": type } : {});
        assert.ok(res.statusCode >= 400 && res.statusCode < 500, res.body);
      }
      assert.equal((await write("PUT", "/v1/integrations/shopify/credentials", { access_token: `${SECRET}-shopify` })).statusCode, 400);
      for (const body of [{ webhook_secret: `${SECRET}-w`, extra: `${SECRET}-extra` }, { webhook_secret: [`${SECRET}-array`] }, { secret: `${SECRET}-misnamed` }]) {
        assert.equal((await write("PUT", "/v1/integrations/stripe/webhook-secret", body)).statusCode, 400);
      }

      // Secrets where they are accepted: credentials of every Mode A type, and webhook secrets.
      for (const type of CONNECTOR_TYPES) {
        const def = connectorDefinition(type);
        if (def.authMode !== "A") continue;
        if (type !== "stripe") {
          const extra = { seller_id: "SELLER1", bank_account_id: "3c90c3cc-0d44-4b50-8888-8dd25736052a", ...SHIP_FROM };
          const body = Object.fromEntries(def.requiredFields.map((f) => [f, extra[f]]));
          assert.equal((await write("POST", `/v1/integrations/${type}`, body)).statusCode, 201, type);
        }
        const values = Object.fromEntries(def.credentialKeys.map((k) => [k, `${SECRET}-${type}-${k}`]));
        const res = await write("PUT", `/v1/integrations/${type}/credentials`, values);
        assert.equal(res.statusCode, 200, `${type}: ${res.body}`);
        assert.equal((await write("PUT", `/v1/integrations/${type}/webhook-secret`, { webhook_secret: `${SECRET}-${type}-whsec` })).statusCode, 200);
      }

      // The lifecycle around them: read, replace, delete, disconnect, restore, purge.
      const call = asKey(t, tenant);
      await call("GET", "/v1/integrations/stripe");
      await call("GET", "/v1/integrations?limit=100");
      await write("PUT", "/v1/integrations/stripe/credentials", { secret_key: `${SECRET}-replaced` });
      await write("DELETE", "/v1/integrations/openai/credentials");
      await write("DELETE", "/v1/integrations/openai/webhook-secret");
      await write("DELETE", "/v1/integrations/stripe");
      assert.equal((await write("PUT", "/v1/integrations/stripe/credentials", { secret_key: `${SECRET}-disconnected` })).statusCode, 409);
      assert.equal((await write("POST", "/v1/integrations/stripe", {})).statusCode, 200);
      await write("DELETE", "/v1/integrations/postmark");
      t.clock.advanceDays(8);
      await t.services.jobs.runDueJobs();
      assert.equal((await write("POST", "/v1/integrations/postmark", {})).statusCode, 201);
      for (const route of ["/admin/v1/vault"]) assert.equal((await t.admin("GET", route)).statusCode, 200);
      assert.equal((await t.admin("POST", "/admin/v1/vault/rewrap", {})).statusCode, 200);

      // The secrets really are stored: they open, and the control shows the scans can see.
      const stripe = await t.database.db.selectFrom("connectors").selectAll().where("entity_id", "=", tenant.entityId).where("connector_type", "=", "stripe").executeTakeFirstOrThrow();
      assert.deepEqual(await t.services.credentials.openCredentials(stripe), { secret_key: `${SECRET}-replaced` });

      // 1. Every HTTP response: status line aside, every header and body.
      assert.ok(t.responses.length > 60);
      assert.ok(t.responses.some((r) => hits(r, CONTROL)), "control: the response scan sees planted values");
      const leakingResponses = t.responses.filter((r) => hits(r, SECRET));
      assert.deepEqual(leakingResponses, [], "a response carries the secret");

      // 2. Every log line (at trace level).
      assert.ok(t.logs.length > 60, `only ${t.logs.length} log lines`);
      assert.deepEqual(t.logs.filter((l) => hits(l, SECRET)), [], "a log line carries the secret");

      // 3. Every table, every column, including the vault's (whose ciphertext must not hold it either).
      const { tables, dump } = await dumpDatabase(t);
      assert.ok(tables.includes("vault_secrets") && tables.includes("connectors") && tables.includes("jobs"), tables.join(","));
      assert.ok(hits(dump, CONTROL), "control: the database scan sees planted values");
      assert.equal(hits(dump, SECRET), false, `the secret is in the database (tables: ${tables.join(", ")})`);

      // 4. Every file under the data dir (embedded: the database files themselves), after a clean shutdown.
      await t.app.close();
      await t.database.close();
      const files = filesUnder(t.dataDir);
      const leakingFiles = files.filter((f) => hits(fs.readFileSync(f), SECRET));
      assert.deepEqual(leakingFiles, [], "a file in the data dir carries the secret");
      assert.ok(files.some((f) => f.endsWith("master-key")), "the generated master key lives in the data dir");
      if (kind === "pglite") {
        const bytes = files.reduce((sum, f) => sum + fs.statSync(f).size, 0);
        assert.ok(bytes > 5_000_000, `scanned ${bytes} bytes in ${files.length} files`);
        assert.ok(files.some((f) => hits(fs.readFileSync(f), CONTROL)), "control: the file scan sees values written by the database");
      }
    });
  });
}
