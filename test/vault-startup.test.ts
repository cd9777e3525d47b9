import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { parseMasterKeys } from "../src/config.ts";
import { uuidv7 } from "../src/kernel/ids.ts";
import { KeyRing } from "../src/vault/envelope.ts";
import { MASTER_KEY_FILE } from "../src/vault/key-ring.ts";
import { createVault } from "../src/vault/vault.ts";
import { ADMIN_TOKEN } from "./helpers/app.ts";
import { ManualClock } from "./helpers/clock.ts";
import { createTestDatabase, DB_KINDS, PG_ADMIN_URL, type TestDatabase } from "./helpers/databases.ts";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");

interface Started {
  lines: string[];
  stderr: string;
  exit: Promise<number | null>;
  stop(): Promise<number | null>;
}

/** Runs `src/main.ts` as a real process with only the given environment. */
function startServer(env: Record<string, string>): Started {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: os.tmpdir(), PORT: "0", PATCHBAY_ADMIN_TOKEN: ADMIN_TOKEN, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const started: Started = {
    lines: [],
    stderr: "",
    exit: new Promise((r) => child.on("exit", (code) => r(code))),
    stop: async () => {
      child.kill("SIGTERM");
      return started.exit;
    },
  };
  let buffer = "";
  child.stdout.on("data", (d) => {
    buffer += String(d);
    const parts = buffer.split("\n");
    buffer = parts.pop()!;
    started.lines.push(...parts);
  });
  child.stderr.on("data", (d) => (started.stderr += String(d)));
  return started;
}

async function waitForLine(s: Started, pattern: RegExp, timeoutMs = 90_000): Promise<string> {
  const start = Date.now();
  for (;;) {
    const line = s.lines.find((l) => pattern.test(l));
    if (line) return line;
    if (Date.now() - start > timeoutMs) throw new Error(`no line matching ${pattern}; stderr: ${s.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const kind of DB_KINDS) {
  describe(`[${kind}] the server's master key at start`, () => {
    if (kind === "pglite") {
      it("embedded mode with no key generates one into the data dir (0600) and logs a warning", async () => {
        const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "patchbay-start-"));
        const server = startServer({ PATCHBAY_DATA_DIR: dataDir });
        try {
          await waitForLine(server, /patchbay ready/);
          const warning = JSON.parse(await waitForLine(server, /generated a master key/));
          assert.equal(warning.level, 40, "a warning");
          const file = path.join(dataDir, MASTER_KEY_FILE);
          assert.equal(warning.file, file);
          assert.equal(fs.statSync(file).mode & 0o777, 0o600);
          const key = fs.readFileSync(file, "utf8").trim();
          assert.equal(parseMasterKeys(key).length, 1);
          assert.ok(!server.lines.join("\n").includes(key.split(":")[1]!), "the key itself is never logged");
        } finally {
          assert.equal(await server.stop(), 0);
          fs.rmSync(dataDir, { recursive: true, force: true });
        }
      });
    } else {
      let database: TestDatabase;
      before(async () => {
        database = await createTestDatabase("postgres");
      });
      after(async () => database.close());

      it("refuses to start on PostgreSQL without PATCHBAY_MASTER_KEYS, saying how to make one", async () => {
        const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "patchbay-start-"));
        try {
          const server = startServer({ DATABASE_URL: PG_ADMIN_URL, PATCHBAY_DATA_DIR: dataDir });
          assert.equal(await server.exit, 1);
          assert.match(server.stderr, /PATCHBAY_MASTER_KEYS/);
          assert.match(server.stderr, /npx patchbay master-key new/);
          assert.deepEqual(fs.readdirSync(dataDir), [], "no key file is generated for PostgreSQL");
        } finally {
          fs.rmSync(dataDir, { recursive: true, force: true });
        }
      });

      it("starts with a configured key, and logs an error when secrets are sealed under keys it lacks", async () => {
        const lost = `k0:${randomBytes(32).toString("base64")}`;
        const entityId = uuidv7();
        await database.db.insertInto("entities").values({ id: entityId, name: "startup", created_at: new Date() }).execute();
        const old = createVault({ db: database.db, ring: new KeyRing(parseMasterKeys(lost)), clock: new ManualClock() });
        await old.sealSecret(database.db, { entityId, ownerId: uuidv7(), purpose: "test" }, "sealed under k0");

        const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "patchbay-start-"));
        const configured = `k1:${randomBytes(32).toString("base64")}`;
        const server = startServer({ DATABASE_URL: database.url!, PATCHBAY_DATA_DIR: dataDir, PATCHBAY_MASTER_KEYS: configured });
        try {
          await waitForLine(server, /patchbay ready/);
          const error = JSON.parse(await waitForLine(server, /sealed under master keys missing/));
          assert.equal(error.level, 50);
          assert.deepEqual(error.missingKeyIds, ["k0"]);
          assert.equal(error.unreadable, 1);
          const all = server.lines.join("\n") + server.stderr;
          assert.ok(!all.includes(configured.split(":")[1]!) && !all.includes(lost.split(":")[1]!), "no key material in the log");
        } finally {
          assert.equal(await server.stop(), 0);
          fs.rmSync(dataDir, { recursive: true, force: true });
        }
      });
    }
  });
}
