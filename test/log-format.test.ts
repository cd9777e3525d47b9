import assert from "node:assert/strict";
import fs from "node:fs";
import { after, describe, it } from "node:test";
import { loadConfig } from "../src/config.ts";
import pino from "pino";
import { createLogDestination, loggerOptions, prettyLogDestination, redactLogFields, redactUrl, wantsPrettyLogs } from "../src/logging.ts";
import { redactQuery } from "../src/providers/call-log.ts";
import { requestLogPath } from "../src/services/request-logs.ts";
import { startServerProcess, tempDir, type ServerProcess } from "./helpers/process.ts";

const ANSI = /\u001b\[[0-9;]*m/g;

describe("logs a person can read: LOG_FORMAT and the start-up summary", () => {
  const dirs: string[] = [];
  let server: ServerProcess | undefined;
  after(async () => {
    await server?.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it("pretty on a terminal or with LOG_FORMAT=pretty, JSON otherwise; a bad LOG_FORMAT names the variable", () => {
    assert.equal(wantsPrettyLogs("auto", { isTTY: true }), true);
    assert.equal(wantsPrettyLogs("auto", { isTTY: false }), false);
    assert.equal(wantsPrettyLogs("json", { isTTY: true }), false);
    assert.equal(wantsPrettyLogs("pretty", { isTTY: false }), true);
    assert.throws(() => loadConfig({ LOG_FORMAT: "yaml" }), /LOG_FORMAT/);
  });

  it("the pretty destination formats each line into the same never-blocking destination, one write per event-loop turn", async () => {
    const written: string[] = [];
    const out = Object.assign(new (await import("node:stream")).Writable({ write: (c, _e, cb) => (written.push(String(c)), cb()) }), {});
    const dest = prettyLogDestination(createLogDestination(out as never), true);
    dest.write(`${JSON.stringify({ level: 30, time: 0, msg: "request completed", req: { method: "GET" }, responseTime: 1.5 })}\n`);
    dest.write(`${JSON.stringify({ level: 30, time: 0, msg: "second line" })}\n`);
    assert.equal(written.length, 0, "handed over at the end of the turn");
    await new Promise((r) => setImmediate(r));
    assert.equal(written.length, 1, "the turn's lines in one write");
    assert.match(written[0]!.replace(ANSI, ""), /request completed[^\n]*\n.*second line/);
    const plain = written[0]!.replace(ANSI, "");
    assert.match(plain, /INFO.*request completed/);
    assert.ok(written[0]!.includes("\u001b["), "colourised");
    assert.ok(!plain.includes('"level"'));
    assert.equal(await dest.flush(100), true);
  });

  it("LOG_FORMAT=pretty: readable lines and one summary (URL, database, data dir, migrations, admin token, jobs)", async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    server = await startServerProcess({ PATCHBAY_DATA_DIR: dataDir, LOG_FORMAT: "pretty", LOG_LEVEL: "info" });
    const deadline = Date.now() + 10_000;
    while (!server.stdout().includes("Patchbay is ready") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const out = server.stdout().replace(ANSI, "");
    assert.match(out, /Patchbay is ready/);
    assert.match(out, new RegExp(`URL +${server.url.replace(/[.]/g, "\\.")}`));
    assert.match(out, /database +embedded PGlite/);
    assert.match(out, new RegExp(`data dir +${dataDir}`));
    assert.match(out, /migrations +applied \d+: 0001_init, /);
    assert.match(out, new RegExp(`admin token +in ${dataDir}/admin-token`));
    assert.match(out, /jobs +.*webhook\.deliver/);
    assert.match(out, /INFO.*applied migration 0001_init/, "each migration is one pretty line");
    assert.ok(!/^\{"level"/m.test(out), "no JSON lines");
    await server.stop();
    server = undefined;
  });

  it("LOG_FORMAT=json: every line JSON, the summary one line of fields", async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    server = await startServerProcess({ PATCHBAY_DATA_DIR: dataDir, PATCHBAY_ADMIN_TOKEN: "pb_admin_0123456789abcdefghijklmn", LOG_FORMAT: "json", LOG_LEVEL: "info", PATCHBAY_JOBS: "false" });
    const deadline = Date.now() + 10_000;
    while (!server.stdout().includes("patchbay ready") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const lines = server.stdout().trim().split("\n").map((l) => JSON.parse(l));
    const ready = lines.find((l) => l.msg === "patchbay ready");
    assert.ok(ready, server.stdout());
    assert.equal(ready.url, server.url);
    assert.equal(ready.adminToken, "PATCHBAY_ADMIN_TOKEN (environment)");
    assert.equal(ready.jobs, null);
    assert.ok(ready.migrated.includes("0001_init"));
    assert.ok(!server.stdout().includes("pb_admin_0123456789"), "the token itself is never logged");
    await server.stop();
    server = undefined;
  });
});

describe("the log's second net: secret-named fields", () => {
  it("a log call's secret-named fields lose their values, at the top and one level down; nothing else is copied or changed", () => {
    const lines: string[] = [];
    const opts = loggerOptions("info", { write: (l: string) => lines.push(l) }) as pino.LoggerOptions & { stream: pino.DestinationStream };
    const log = pino(opts, opts.stream);
    log.info({ token: "tok-1", connector: { id: "c1", credentials: { secret_key: "sk-2" } }, headers: { authorization: "Bearer sk-3", accept: "*/*" }, n: 1 }, "planted");
    log.info({ req: { method: "GET", url: "/v1/x?api_key=sk-4", id: "r1", headers: { authorization: "Bearer sk-5" } }, res: { statusCode: 200 } }, "request completed");
    const out = lines.join("");
    for (const secret of ["tok-1", "sk-2", "sk-3", "sk-4", "sk-5"]) assert.ok(!out.includes(secret), `${secret} logged`);
    const first = JSON.parse(lines[0]!);
    assert.deepEqual([first.token, first.connector, first.headers, first.n], ["[REDACTED]", { id: "c1", credentials: "[REDACTED]" }, { authorization: "[REDACTED]", accept: "*/*" }, 1]);
    assert.deepEqual(JSON.parse(lines[1]!).req, { method: "GET", url: "/v1/x?api_key=%5BREDACTED%5D", id: "r1" });
    const failed = Object.assign(new Error("provider refused"), { code: "E_AUTH", password: "sk-6" });
    log.error({ err: failed }, "call failed");
    assert.ok(!lines[2]!.includes("sk-6"), "an error's secret-named field");
    assert.deepEqual([JSON.parse(lines[2]!).err.message, JSON.parse(lines[2]!).err.code], ["provider refused", "E_AUTH"]);
    const plain = { req: { method: "GET" }, responseTime: 1 };
    assert.equal(redactLogFields(plain), plain, "nothing secret: the same object, no copy");
  });
});

describe("one list of secret query parameters for the three logs", () => {
  it("the server log, the provider-call log and the request log hide the same values", () => {
    const secrets = { api_key: "s1", connection_token: "s2", code: "s3", state: "s4", hmac: "s5", "X-Amz-Signature": "s6", client_secret: "s7", refresh_token: "s8", Authorization: "s9", password: "s10" };
    const url = `/v1/x?${new URLSearchParams({ ...secrets, limit: "5", shop: "a.myshopify.com" }).toString()}`;
    for (const [name, out] of [["server log", redactUrl(url)], ["provider-call log", redactQuery(url)], ["request log", requestLogPath(url)]] as const) {
      const kept = new URLSearchParams(out.slice(out.indexOf("?") + 1));
      for (const [k, v] of Object.entries(secrets)) assert.ok(kept.get(k) !== v && /redacted/i.test(kept.get(k) ?? ""), `${name}: ${k} kept in ${out}`);
      assert.equal(kept.get("limit"), "5", name);
      assert.equal(kept.get("shop"), "a.myshopify.com", name);
    }
  });
});

