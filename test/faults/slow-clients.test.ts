import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/databases.ts";
import { ADMIN_TOKEN } from "../helpers/app.ts";
import { ROOT, startTestServerProcess, type ServerProcess } from "../helpers/process.ts";

// Small bounds so the suite runs fast; the defaults are checked against the README below.
const HEADERS_MS = 1_000;
const REQUEST_MS = 1_500;
const KEEP_ALIVE_MS = 500;
/** The bound plus the server's check interval and a scheduling margin on a busy machine. */
const SLACK_MS = 1_500;

interface SlowSocket {
  closedAfterMs: Promise<number>;
  received(): string;
  stop(): void;
}

/** A client that sends `first` at once, then one byte of `trickle` every intervalMs, never finishing. */
function slowClient(port: number, first: string, trickle: string, intervalMs: number): SlowSocket {
  const started = Date.now();
  const socket = net.connect(port, "127.0.0.1");
  let received = "";
  let i = 0;
  socket.on("data", (d) => (received += d));
  socket.on("error", () => {});
  socket.write(first);
  const timer = setInterval(() => {
    if (!socket.writable) return;
    socket.write(trickle[i % trickle.length]!);
    i++;
  }, intervalMs);
  const closedAfterMs = new Promise<number>((resolve) =>
    socket.once("close", () => {
      clearInterval(timer);
      resolve(Date.now() - started);
    }),
  );
  return { closedAfterMs, received: () => received, stop: () => (clearInterval(timer), socket.destroy()) };
}

/** Resolves with the close time, or null if the socket is still open after ms. */
async function closedWithin(s: SlowSocket, ms: number): Promise<number | null> {
  return Promise.race([s.closedAfterMs, new Promise<null>((r) => setTimeout(() => r(null), ms))]);
}

describe("slow clients cannot hold sockets: headers, body and idle keep-alive are bounded", () => {
  let database: TestDatabase;
  let server: ServerProcess;
  let port: number;
  const sockets: SlowSocket[] = [];
  before(async () => {
    database = await createTestDatabase("postgres", { poolSize: 2 });
    server = await startTestServerProcess({
      DATABASE_URL: database.url!,
      PATCHBAY_HEADERS_TIMEOUT_MS: String(HEADERS_MS),
      PATCHBAY_REQUEST_TIMEOUT_MS: String(REQUEST_MS),
      PATCHBAY_KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_MS),
    });
    port = Number(new URL(server.url).port);
  });
  after(async () => {
    for (const s of sockets) s.stop();
    await server.stop();
    await database.close();
  });

  it("60 sockets trickling their headers are all closed by the headers bound", async () => {
    const trickling = Array.from({ length: 60 }, () => slowClient(port, "GET /healthz HTTP/1.1\r\nhost: x\r\n", "x-slow: aaaaaaaaaaaaaaaaaaaa", 100));
    sockets.push(...trickling);
    const closed = await Promise.all(trickling.map((s) => closedWithin(s, HEADERS_MS + SLACK_MS)));
    assert.equal(closed.filter((ms) => ms === null).length, 0, "every trickling socket is closed");
    for (const ms of closed) assert.ok(ms! >= HEADERS_MS - 100, `closed at the bound, not before (${ms} ms)`);
    for (const s of trickling) assert.doesNotMatch(s.received(), /^HTTP\/1\.1 200/, "never answered as if complete");
    // The server still serves everyone else.
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  it("a body declaring 1000 bytes that sends 10 is cut by the request bound, and nothing is created", async () => {
    const body = `{"name":"${"x".repeat(989)}"}`;
    const head = `POST /admin/v1/entities HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ADMIN_TOKEN}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`;
    assert.equal(body.length, 1000);
    const s = slowClient(port, head + body.slice(0, 10), "", 1_000_000);
    sockets.push(s);
    const ms = await closedWithin(s, REQUEST_MS + SLACK_MS);
    assert.notEqual(ms, null, `still open ${REQUEST_MS + SLACK_MS} ms after it started`);
    assert.doesNotMatch(s.received(), /^HTTP\/1\.1 2/);
    const entities = await database.db.selectFrom("entities").select("id").execute();
    assert.equal(entities.length, 0);
  });

  it("an idle keep-alive connection is closed after the keep-alive bound", async () => {
    const s = slowClient(port, "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n", "", 1_000_000);
    sockets.push(s);
    // Node holds an idle socket about a second past keepAliveTimeout (measured on Node 20), so a client never races the close.
    const ms = await closedWithin(s, KEEP_ALIVE_MS + 1_000 + SLACK_MS);
    assert.match(s.received(), /^HTTP\/1\.1 200 /, "the request itself was answered");
    assert.notEqual(ms, null, "the idle connection was closed");
  });
});

describe("the slow-client bounds are configuration, with the defaults the README gives", () => {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const documentedDefault = (name: string) => {
    const row = readme.split("\n").find((l) => l.startsWith(`| \`${name}\``));
    assert.ok(row, `README configuration table has a row for ${name}`);
    return Number(/\| `(\d+)` \|/.exec(row)?.[1]);
  };

  it("defaults: 10 s for headers, 30 s for a request, 5 s idle keep-alive — as documented", () => {
    const { httpTimeouts } = loadConfig({});
    assert.deepEqual(httpTimeouts, { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 });
    assert.equal(documentedDefault("PATCHBAY_HEADERS_TIMEOUT_MS"), httpTimeouts.headersMs);
    assert.equal(documentedDefault("PATCHBAY_REQUEST_TIMEOUT_MS"), httpTimeouts.requestMs);
    assert.equal(documentedDefault("PATCHBAY_KEEP_ALIVE_TIMEOUT_MS"), httpTimeouts.keepAliveMs);
  });

  it("values are validated at start, naming the variable", () => {
    assert.throws(() => loadConfig({ PATCHBAY_HEADERS_TIMEOUT_MS: "10s" }), (e: unknown) => e instanceof ConfigError && e.variable === "PATCHBAY_HEADERS_TIMEOUT_MS");
    assert.throws(() => loadConfig({ PATCHBAY_REQUEST_TIMEOUT_MS: "0" }), (e: unknown) => e instanceof ConfigError && e.variable === "PATCHBAY_REQUEST_TIMEOUT_MS");
    assert.throws(() => loadConfig({ PATCHBAY_KEEP_ALIVE_TIMEOUT_MS: "99999999" }), (e: unknown) => e instanceof ConfigError && e.variable === "PATCHBAY_KEEP_ALIVE_TIMEOUT_MS");
    assert.throws(
      () => loadConfig({ PATCHBAY_HEADERS_TIMEOUT_MS: "20000", PATCHBAY_REQUEST_TIMEOUT_MS: "10000" }),
      (e: unknown) => e instanceof ConfigError && /must not exceed PATCHBAY_REQUEST_TIMEOUT_MS/.test(e.message),
    );
  });
});
