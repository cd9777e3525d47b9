import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ensureCliBuilt } from "../scripts/build-cli.mjs";
import { COMMANDS, GLOBAL_FLAGS } from "../src/cli/commands.ts";
import { completionScript } from "../src/cli/completion.ts";
import { ADMIN_TOKEN, startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { startFakeProvider, type FakeProvider } from "./helpers/fake-provider.ts";
import { createTenant } from "./helpers/fixtures.ts";
import { connectShop } from "./helpers/shop-integrations.ts";

const ROOT = path.resolve(import.meta.dirname, "..");

/** Runs the compiled CLI (bin/patchbay.mjs), with `stdin` piped in. */
function patchbay(args: string[], opts: { env?: Record<string, string>; stdin?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, "bin", "patchbay.mjs"), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", PATCHBAY_DATA_DIR: os.tmpdir(), ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.stdin.end(opts.stdin ?? "");
    child.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const widest = (text: string) => Math.max(...text.split("\n").map((l) => l.length));

describe("the CLI's own interface: version, help, strict flags, completion", () => {
  before(async () => {
    await ensureCliBuilt();
  });

  it("--version prints the package's version and exits 0", async () => {
    const res = await patchbay(["--version"]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version);
  });

  it("--help lists every command within 100 columns with the exit codes; per-command --help and help <command> show its flags", async () => {
    const main = await patchbay(["--help"]);
    assert.equal(main.code, 0);
    for (const c of COMMANDS) assert.ok(main.stdout.includes(c.name), c.name);
    assert.match(main.stdout, /Exit codes:/);
    assert.ok(widest(main.stdout) <= 100, `widest line ${widest(main.stdout)}`);
    const a = await patchbay(["keys", "create", "--help"]);
    const b = await patchbay(["help", "keys", "create"]);
    assert.equal(a.code, 0);
    assert.equal(a.stdout, b.stdout);
    assert.match(a.stdout, /--rate-limit-burst N/);
    assert.doesNotMatch(a.stdout, /--customer/, "only its own flags");
    const group = await patchbay(["help", "connectors"]);
    assert.match(group.stdout, /patchbay connectors pause TYPE/);
  });

  it("flags are strict per command: an unknown one is exit 2 naming the valid ones; so is an unknown command", async () => {
    const res = await patchbay(["keys", "list", "--entitty", "x"]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /Unknown or malformed flag --entitty for "patchbay keys list"/);
    assert.match(res.stderr, /Valid flags: .*--entity/);
    // A flag of another command is not accepted either.
    assert.equal((await patchbay(["entities", "list", "--customer", "c"])).code, 2);
    const unknown = await patchbay(["connectors", "explode"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Use one of: connectors list, connectors get/);
  });

  it("bash completion completes command words, sub-commands and the command's flags", () => {
    const complete = (line: string) => {
      const words = line.split(" ");
      const script = `${completionScript("bash", { commands: COMMANDS, globalFlags: GLOBAL_FLAGS })}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _patchbay; printf '%s\\n' "\${COMPREPLY[@]}"`;
      return spawnSync("bash", ["-c", script], { encoding: "utf8" }).stdout.trim().split("\n").sort();
    };
    assert.ok(complete("patchbay con").includes("connectors") && complete("patchbay con").includes("connections"));
    assert.deepEqual(complete("patchbay connectors p"), ["pause"]);
    assert.ok(complete("patchbay keys create --rate").includes("--rate-limit-burst"));
    const zsh = completionScript("zsh", { commands: COMMANDS, globalFlags: GLOBAL_FLAGS });
    assert.match(zsh, /compdef _patchbay patchbay/);
  });
});

for (const kind of DB_KINDS) {
  describe(`the CLI against a real server (${kind})`, () => {
    let t: TestApp;
    let stripe: FakeProvider;
    let env: Record<string, string>;
    before(async () => {
      await ensureCliBuilt();
      stripe = await startFakeProvider({ "GET /v1/balance": (req) => ({ status: 200, body: { object: "balance", authorized: req.headers.authorization === "Bearer sk_live_pbcli0001" } }) });
      t = await startTestApp(kind, { env: { PATCHBAY_PROVIDER_URL_STRIPE: stripe.url, PATCHBAY_WEBHOOK_ALLOW_PRIVATE: "true" } });
      await t.app.listen({ host: "127.0.0.1", port: 0 });
      env = { PATCHBAY_URL: `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`, PATCHBAY_ADMIN_TOKEN: ADMIN_TOKEN };
    });
    after(async () => {
      await t.close();
      await stripe.close();
    });

    it("entities and keys, then connectors through their life, credentials from stdin, the proxy and the provider-call log", async () => {
      const entity = JSON.parse((await patchbay(["entities", "create", "--name", "CLI Corp", "--json"], { env })).stdout);
      const created = await patchbay(["keys", "create", "--entity", entity.id, "--scopes", "integrations:read,integrations:write,integrations:proxy,webhooks:manage", "--json"], { env });
      assert.equal(created.code, 0, created.stderr);
      const key = JSON.parse(created.stdout);
      const list = await patchbay(["keys", "list", "--entity", entity.id], { env });
      assert.equal(list.code, 0, list.stderr);
      assert.ok(widest(list.stdout) <= 100, `keys list is ${widest(list.stdout)} columns:\n${list.stdout}`);

      const as = { ...env, PATCHBAY_API_KEY: key.key };
      const connect = await patchbay(["connectors", "connect", "stripe", "--display-name", "Payments", "--json"], { env: as });
      assert.equal(connect.code, 0, connect.stderr);
      assert.equal(JSON.parse(connect.stdout).display_name, "Payments");

      // Credentials from stdin; a value on the command line is refused.
      const onArgv = await patchbay(["credentials", "set", "stripe", '{"secret_key":"sk_live_pbcli0001"}'], { env: as });
      assert.equal(onArgv.code, 2);
      assert.match(onArgv.stderr, /never from the command line/);
      const creds = await patchbay(["credentials", "set", "stripe"], { env: as, stdin: '{"secret_key":"sk_live_pbcli0001"}' });
      assert.equal(creds.code, 0, creds.stderr);
      assert.ok(!creds.stdout.includes("sk_live_pbcli0001"), "the value is never printed");
      assert.match(creds.stdout, /secret_key/);

      const proxied = await patchbay(["proxy", "stripe", "GET", "/v1/balance", "--json"], { env: as });
      assert.equal(proxied.code, 0, proxied.stderr);
      assert.deepEqual(JSON.parse(proxied.stdout), { status: 200, body: { object: "balance", authorized: true } });
      const logs = await patchbay(["logs", "stripe", "--json"], { env: as });
      assert.equal(JSON.parse(logs.stdout).data[0].path, "/v1/balance");

      const pause = await patchbay(["connectors", "pause", "stripe", "--json"], { env: as });
      assert.equal(JSON.parse(pause.stdout).is_active, false, pause.stderr);
      const resume = await patchbay(["connectors", "resume", "stripe", "--json"], { env: as });
      assert.equal(JSON.parse(resume.stdout).is_active, true, resume.stderr);
      const settings = await patchbay(["connectors", "settings", "stripe", "--display-name", "Stripe EU", "--json"], { env: as });
      assert.equal(JSON.parse(settings.stdout).display_name, "Stripe EU", settings.stderr);
      const table = await patchbay(["connectors", "list"], { env: as });
      assert.match(table.stdout, /stripe\s+Stripe EU/);
      assert.ok(widest(table.stdout) <= 100);

      assert.equal((await patchbay(["connectors", "disconnect", "stripe"], { env: as })).code, 0);
      const restored = await patchbay(["connectors", "restore", "stripe", "--json"], { env: as });
      assert.equal(restored.code, 0, restored.stderr);
      assert.equal(JSON.parse(restored.stdout).has_credentials_secret_arn, true, "restored with its credentials");

      // A server error: its code and hint, exit 1.
      const missing = await patchbay(["connectors", "get", "avatax"], { env: as });
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^error: .*\(\w+, HTTP 404, req_/m);

      // Webhook endpoints and their deliveries.
      const hook = await patchbay(["webhooks", "create", "--endpoint-url", "http://127.0.0.1:9/patchbay", "--json"], { env: as });
      assert.equal(hook.code, 0, hook.stderr);
      const endpoint = JSON.parse(hook.stdout);
      const id = (endpoint.data ?? endpoint).id as string;
      const deliveries = await patchbay(["webhooks", "deliveries", id, "--json"], { env: as });
      assert.equal(deliveries.code, 0, deliveries.stderr);
      assert.ok(Array.isArray(JSON.parse(deliveries.stdout).data));
      const got = await patchbay(["webhooks", "get", id, "--json"], { env: as });
      assert.equal(JSON.parse(got.stdout).id, id, got.stderr);
      const updated = await patchbay(["webhooks", "update", id, "--description", "from the CLI", "--json"], { env: as });
      assert.equal(JSON.parse(updated.stdout).description, "from the CLI", updated.stderr);
      const rotated = await patchbay(["webhooks", "rotate-secret", id], { env: as });
      assert.match(rotated.stdout, /New signing secret for .*: whsec_[0-9a-f]{64}/, rotated.stderr);
      const tested = await patchbay(["webhooks", "test", id], { env: as });
      assert.match(tested.stdout, /Queued a webhook.test event/, tested.stderr);
      const catalog = await patchbay(["catalog"], { env: as });
      assert.match(catalog.stdout, /stripe/);
      assert.ok(widest(catalog.stdout) <= 100);
      // The provider's webhook secret: stdin only.
      assert.equal((await patchbay(["webhook-secret", "set", "stripe", "whsec_on_argv"], { env: as })).code, 2);
      const secret = await patchbay(["webhook-secret", "set", "stripe"], { env: as, stdin: "whsec_provider_0001\n" });
      assert.equal(secret.code, 0, secret.stderr);
      assert.equal(JSON.parse((await patchbay(["connectors", "get", "stripe", "--json"], { env: as })).stdout).has_webhook_secret, true);
      assert.equal((await patchbay(["webhook-secret", "delete", "stripe"], { env: as })).code, 0);
    });

    it("shop integrations: list, get, update, logs and delete through /api/v3; audit with the key's own entity", async () => {
      const tenant = await createTenant(t);
      const id = await connectShop(t, tenant, "amazon");
      const as = { ...env, PATCHBAY_API_KEY: tenant.key, PATCHBAY_PUBLIC_KEY: tenant.publicKey };
      const listed = await patchbay(["shop-integrations", "list"], { env: as });
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, new RegExp(`^${id}\\s`, "m"));
      const got = await patchbay(["shop-integrations", "get", String(id), "--json"], { env: as });
      assert.equal(got.code, 0, got.stderr);
      assert.equal(String(JSON.parse(got.stdout).data.id), String(id));
      const updated = await patchbay(["shop-integrations", "update", String(id), "--set", '{"shop_name":"From the CLI"}'], { env: as });
      assert.equal(updated.code, 0, updated.stderr);
      assert.match((await patchbay(["shop-integrations", "get", String(id)], { env: as })).stdout, /^shop_name: From the CLI$/m);
      const badSet = await patchbay(["shop-integrations", "update", String(id), "--set", "not json"], { env: as });
      assert.equal(badSet.code, 2);
      const notAnId = await patchbay(["shop-integrations", "get", "abc"], { env: as });
      assert.equal(notAnId.code, 2);
      assert.match(notAnId.stderr, /not an integration id/);
      const logs = await patchbay(["shop-integrations", "logs", String(id), "--json"], { env: as });
      assert.equal(logs.code, 0, logs.stderr);
      assert.ok(Array.isArray(JSON.parse(logs.stdout).data));
      assert.equal((await patchbay(["shop-integrations", "logs"], { env: as })).code, 0);
      const audit = await patchbay(["audit", "--json"], { env: { ...as, PATCHBAY_ADMIN_TOKEN: "" } });
      assert.equal(audit.code, 0, audit.stderr);
      assert.ok(JSON.parse(audit.stdout).data.some((e: { action: string }) => e.action.startsWith("connector.")), audit.stdout);
      const deleted = await patchbay(["shop-integrations", "delete", String(id)], { env: as });
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.equal((await patchbay(["shop-integrations", "get", String(id)], { env: as })).code, 1, "gone from /api/v3 once disconnected");
    });

    it("request-logs lists the key's requests (filters, --count, --json) and any entity's through --entity; last_used_at shows in keys list", async () => {
      const entity = JSON.parse((await patchbay(["entities", "create", "--name", "Logs Corp", "--json"], { env })).stdout);
      const key = JSON.parse((await patchbay(["keys", "create", "--entity", entity.id, "--scopes", "integrations:read,request_logs:read", "--json"], { env })).stdout);
      const as = { ...env, PATCHBAY_API_KEY: key.key };
      assert.equal((await patchbay(["connectors", "get", "avatax"], { env: as })).code, 1);
      assert.equal((await patchbay(["connectors", "list"], { env: as })).code, 0);
      const all = await patchbay(["request-logs", "--path-prefix", "/v1/integrations", "--json"], { env: as });
      assert.equal(all.code, 0, all.stderr);
      assert.deepEqual(JSON.parse(all.stdout).data.map((r: { path: string; status: number }) => `${r.path} ${r.status}`), ["/v1/integrations 200", "/v1/integrations/avatax 404"]);
      const errors = await patchbay(["request-logs", "--status", "4xx", "--since", "1h", "--count"], { env: as });
      assert.equal(errors.code, 0, errors.stderr);
      assert.match(errors.stdout, /GET\s+404\s+\d+\s+live\s+127.0.0.1\s+\/v1\/integrations\/avatax/);
      assert.match(errors.stdout, /^1 matching in all$/m);
      assert.ok(widest(errors.stdout) <= 100, errors.stdout);
      const operator = await patchbay(["request-logs", "--entity", entity.id, "--method", "get", "--json"], { env });
      assert.equal(operator.code, 0, operator.stderr);
      assert.ok(JSON.parse(operator.stdout).data.length >= 3);
      const bad = await patchbay(["request-logs", "--status", "4x"], { env: as });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--status needs/);
      await t.services.requestLog.flush();
      const keys = await patchbay(["keys", "list", "--entity", entity.id, "--json"], { env });
      assert.match(JSON.parse(keys.stdout)[0].last_used_at, /^\d{4}-/);
    });

    it("an entity command without an API key says how to give one (exit 2)", async () => {
      const res = await patchbay(["connectors", "list"], { env });
      assert.equal(res.code, 2);
      assert.match(res.stderr, /PATCHBAY_API_KEY/);
    });
  });
}

describe("progress bars", () => {
  it("render one line within 100 columns; drawn only on a terminal", async () => {
    const { renderBar, createOutput } = await import("../src/cli/output.ts");
    assert.equal(renderBar("rewrap", 7, 20, 20), "rewrap [#######.............]  35%  7/20");
    assert.equal(renderBar("migrations", 0, 0, 10), "migrations [##########] 100%  0/0");
    assert.ok(renderBar("x".repeat(80), 1, 3).length <= 100);
    // stderr is a pipe under the test runner: nothing is written.
    const writes: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    (process.stderr as { write: unknown }).write = (chunk: string) => (writes.push(String(chunk)), true);
    try {
      createOutput(false).bar("rewrap", 1, 2);
    } finally {
      (process.stderr as { write: unknown }).write = write;
    }
    assert.deepEqual(writes, []);
  });
});
