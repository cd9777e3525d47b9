import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import { performance } from "node:perf_hooks";
import { freePort, ROOT } from "../test/helpers/process.ts";
import { cpuMs } from "./cpu.ts";

// One copy of the loopback helpers for the tests and the bench.
export { freePort, ROOT };

export interface ServerUnderTest {
  name: string;
  url: string;
  pid: number;
  /** Spawn to the first 200 from /healthz, in ms. */
  startupMs: number;
  /** CPU ms the process had used by then (all its threads): unlike the wall time, barely moved by other load on the machine. */
  startupCpuMs: number | null;
  rss: RssSampler;
  /** null while it runs; how it ended (exit code or signal, and the tail of its stderr) once it has. */
  ended(): string | null;
  stop(): Promise<void>;
}

export interface StartOptions {
  name: string;
  /** A TypeScript entry point, relative to the repository root. */
  entry: string;
  env: Record<string, string>;
  nodeFlags?: string[];
  timeoutMs?: number;
}

const running = new Set<ChildProcess>();

/**
 * Starts a server as its own Node process (`node <entry>`, through tsx when
 * the entry is TypeScript), and times it to /healthz 200. Its log goes
 * to /dev/null: the server still formats and writes every line, but nothing
 * on this machine spends CPU reading them back.
 */
export async function startServer(opts: StartOptions): Promise<ServerUnderTest> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const loader = opts.entry.endsWith(".ts") ? ["--import", "tsx"] : [];
  const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), ...loader, opts.entry], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", HOST: "127.0.0.1", PORT: String(port), ...opts.env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  running.add(child);
  let stopping = false;
  let ended: string | null = null;
  child.once("exit", (code, signal) => {
    running.delete(child);
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    ended = `${opts.name} (pid ${child.pid}) ${how}${stopping ? "" : " while the harness still used it"}${stderr ? `; its stderr ended:\n${stderr.slice(-2000)}` : ""}`;
  });
  let stderr = "";
  child.stderr!.on("data", (d) => {
    if (stderr.length < 20_000) stderr += d;
  });

  const deadline = started + (opts.timeoutMs ?? 60_000);
  let startupMs = NaN;
  let startupCpuMs: number | null = null;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${opts.name} exited with ${child.exitCode} before it was healthy:\n${stderr}`);
    try {
      const res = await fetch(`${url}/healthz`);
      await res.arrayBuffer();
      if (res.status === 200) {
        startupMs = performance.now() - started;
        startupCpuMs = cpuMs(child.pid!);
        break;
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  if (Number.isNaN(startupMs)) {
    child.kill("SIGKILL");
    throw new Error(`${opts.name} was not healthy within ${opts.timeoutMs ?? 60_000} ms:\n${stderr}`);
  }

  return {
    name: opts.name,
    url,
    pid: child.pid!,
    startupMs,
    startupCpuMs,
    rss: new RssSampler(child.pid!),
    ended: () => ended,
    stop: () =>
      new Promise<void>((resolve) => {
        stopping = true;
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const force = setTimeout(() => child.kill("SIGKILL"), 10_000);
        child.once("exit", () => {
          clearTimeout(force);
          resolve();
        });
        // SIGTERM lets Patchbay close cleanly (and lets --cpu-prof write its profile).
        child.kill("SIGTERM");
      }),
  };
}

/** Kills whatever this harness started and is still running (on an error or Ctrl-C). */
export function killAllStarted(): void {
  for (const child of running) child.kill("SIGKILL");
}

/**
 * Samples a process's resident set size (VmRSS in /proc/<pid>/status) every
 * 100 ms while armed. Linux only: elsewhere the figure is reported as "–".
 */
export class RssSampler {
  private timer: NodeJS.Timeout | null = null;
  private peakKb = 0;

  constructor(private readonly pid: number) {}

  start(): void {
    this.peakKb = 0;
    this.sample();
    this.timer = setInterval(() => this.sample(), 100);
  }

  /** Stops sampling; the peak in MB (MiB) since start(). */
  stop(): number | null {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
    return this.peakKb > 0 ? this.peakKb / 1024 : null;
  }

  private sample(): void {
    const kb = rssKb(this.pid);
    if (kb !== null && kb > this.peakKb) this.peakKb = kb;
  }
}

function rssKb(pid: number): number | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
