import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { after, describe, it } from "node:test";
import { createTestDatabase, pgliteTemplateFile, type TestDatabase } from "../helpers/databases.ts";
import { ADMIN_TOKEN } from "../helpers/app.ts";
import { freePort, ROOT, tempDir, TEST_MASTER_KEYS } from "../helpers/process.ts";

const EXIT_BOUND_MS = 10_000;

interface UnreadServer {
  url: string;
  port: number;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/**
 * The real server with a stdout pipe that nobody reads: a parent that died, a
 * full journald or container log buffer. Once the pipe's buffer is full,
 * every write to it would block.
 */
async function startWithUnreadStdout(env: Record<string, string>): Promise<UnreadServer> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "debug", PATCHBAY_ADMIN_TOKEN: ADMIN_TOKEN, PATCHBAY_MASTER_KEYS: TEST_MASTER_KEYS, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  // stdout is never read: no 'data' listener, never resumed.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${err}`);
    if (Date.now() > deadline) throw new Error(`server not healthy in time: ${err}`);
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, port, child, exited, stderr: () => err };
}

/** Lots of log lines: every request writes its own, and at debug level more. */
async function logALot(url: string, requests: number): Promise<number> {
  let answered = 0;
  const longQuery = `?padding=${"p".repeat(1500)}`;
  await Promise.all(
    Array.from({ length: 16 }, async (_, worker) => {
      for (let i = worker; i < requests; i += 16) {
        try {
          const res = await fetch(`${url}/v1/integrations/no-such-type-${i}${longQuery}`);
          await res.arrayBuffer();
          answered++;
        } catch {
          // refused once it stops: fine
        }
      }
    }),
  );
  return answered;
}

/** Exit within the bound, or SIGKILL (so the run never hangs) and fail. */
async function exitWithin(server: UnreadServer, ms: number): Promise<{ code: number | null; elapsedMs: number }> {
  const started = Date.now();
  const timer = setTimeout(() => server.child.kill("SIGKILL"), ms + 5_000);
  const { code, signal } = await server.exited;
  clearTimeout(timer);
  const elapsedMs = Date.now() - started;
  assert.notEqual(signal, "SIGKILL", `still alive ${ms + 5_000} ms after the signal (stderr: ${server.stderr().slice(-500)})`);
  return { code, elapsedMs };
}

/** A raw request whose body is still arriving: in flight until it is sent in full. */
function partialPost(port: number, body: string, sentBytes: number) {
  const socket = net.connect(port, "127.0.0.1");
  let received = "";
  socket.on("data", (d) => (received += d));
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.write(
    `POST /admin/v1/entities HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ADMIN_TOKEN}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, sentBytes)}`,
  );
  return {
    finish: () => socket.write(body.slice(sentBytes)),
    closed,
    received: () => received,
  };
}

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function postgresServer(): Promise<UnreadServer> {
  const database: TestDatabase = await createTestDatabase("postgres", { poolSize: 1 });
  const dataDir = tempDir();
  const server = await startWithUnreadStdout({ DATABASE_URL: database.url!, PATCHBAY_DATA_DIR: dataDir });
  cleanups.push(async () => {
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGKILL");
    await database.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  return server;
}

/** A data dir whose embedded database is already migrated (from the tests' template): initdb costs a busy machine 10-20 s. */
async function seededDataDir(): Promise<string> {
  const dataDir = tempDir();
  const pglite = await PGlite.create(path.join(dataDir, "pglite"), { loadDataDir: new Blob([fs.readFileSync(await pgliteTemplateFile())]) });
  await pglite.close();
  return dataDir;
}

describe("a server whose stdout nobody reads exits within 10 s of SIGTERM or SIGINT", () => {
  it("[postgres] SIGTERM while it logs (LOG_LEVEL=debug, a request every line): exits 0 within 10 s", async (t) => {
    const server = await postgresServer();
    // Far more than a pipe holds (64 KB): each request's line carries its 1.5 KB URL.
    const answered = await logALot(server.url, 800);
    assert.ok(answered >= 800, `the server kept answering while its log pipe was full (${answered})`);
    const load = logALot(server.url, 2000);
    await new Promise((r) => setTimeout(r, 200));
    server.child.kill("SIGTERM");
    const { code, elapsedMs } = await exitWithin(server, EXIT_BOUND_MS);
    t.diagnostic(`exited with ${code} ${elapsedMs} ms after the signal`);
    await load;
    assert.equal(code, 0);
    assert.ok(elapsedMs < EXIT_BOUND_MS, `exited ${elapsedMs} ms after SIGTERM`);
  });

  it("[embedded] SIGINT after a burst of logging: exits within 10 s and gives up the data dir", async (t) => {
    const dataDir = await seededDataDir();
    cleanups.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
    const server = await startWithUnreadStdout({ PATCHBAY_DATA_DIR: dataDir });
    cleanups.push(async () => void (server.child.exitCode === null && server.child.signalCode === null && server.child.kill("SIGKILL")));
    await logALot(server.url, 400);
    server.child.kill("SIGINT");
    const { code, elapsedMs } = await exitWithin(server, EXIT_BOUND_MS);
    t.diagnostic(`exited with ${code} ${elapsedMs} ms after the signal`);
    assert.equal(code, 0);
    assert.ok(elapsedMs < EXIT_BOUND_MS, `exited ${elapsedMs} ms after SIGINT`);
    assert.equal(fs.existsSync(`${dataDir}/patchbay.pid`), false, "the data-dir claim is released");
  });

  it("[postgres] a request in flight at SIGTERM is answered if it completes in time, cut at the bound if not; exit within 10 s", async (t) => {
    const server = await postgresServer();
    await logALot(server.url, 400);
    const completes = partialPost(server.port, JSON.stringify({ name: "finished during shutdown" }), 10);
    const stalls = partialPost(server.port, JSON.stringify({ name: "x".repeat(980) }), 10);
    await new Promise((r) => setTimeout(r, 200));
    server.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    completes.finish();
    const { code, elapsedMs } = await exitWithin(server, EXIT_BOUND_MS);
    t.diagnostic(`exited with ${code} ${elapsedMs} ms after the signal`);
    await Promise.all([completes.closed, stalls.closed]);
    assert.equal(code, 0);
    assert.ok(elapsedMs < EXIT_BOUND_MS, `exited ${elapsedMs} ms after SIGTERM`);
    assert.match(completes.received(), /^HTTP\/1\.1 201 /, "the request that finished in time was answered");
    assert.doesNotMatch(stalls.received(), /^HTTP\/1\.1 2/, "the stalled request was cut, never executed");
  });
});
