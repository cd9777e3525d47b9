import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { ADMIN_TOKEN } from "./app.ts";

export const ROOT = path.resolve(import.meta.dirname, "../..");

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

export function tempDir(prefix = "patchbay-proc-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  stop(): Promise<void>;
}

/**
 * Runs Patchbay as its own process and waits for /healthz 200: `src/main.ts`
 * through tsx by default, or `scripts/start.mjs` (what `npm start` runs: the
 * compiled bundle) when asked.
 */
export async function startServerProcess(env: Record<string, string>, timeoutMs = 90_000, entry: "src/main.ts" | "scripts/start.mjs" = "src/main.ts"): Promise<ServerProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const child = spawn(process.execPath, entry.endsWith(".ts") ? ["--import", "tsx", entry] : [entry], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", LOG_LEVEL: "warn", PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${err}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (Date.now() >= deadline) {
    child.kill("SIGKILL");
    throw new Error(`server did not become healthy in ${timeoutMs} ms: ${err}`);
  }
  return {
    url,
    child,
    stdout: () => out,
    stderr: () => err,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5_000).unref();
      }),
  };
}

/** One master key for every server process of a test run, so processes sharing a PostgreSQL open each other's secrets. */
export const TEST_MASTER_KEYS = `test1:${randomBytes(32).toString("base64")}`;

/**
 * A server process with the tests' defaults — its own data dir (removed on
 * stop), the tests' admin token and master key, background jobs off — for
 * putting several processes on one PostgreSQL (pass DATABASE_URL).
 */
export async function startTestServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const dataDir = tempDir();
  const server = await startServerProcess({
    HOST: "127.0.0.1",
    PATCHBAY_DATA_DIR: dataDir,
    PATCHBAY_ADMIN_TOKEN: ADMIN_TOKEN,
    PATCHBAY_MASTER_KEYS: TEST_MASTER_KEYS,
    PATCHBAY_JOBS: "false",
    LOG_LEVEL: "info",
    ...env,
  });
  return {
    ...server,
    stop: async () => {
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs a command to completion and gathers its output. */
export function runCommand(args: string[], env: Record<string, string>, cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
