import { execFileSync } from "node:child_process";
import fs from "node:fs";
import pg from "pg";

/**
 * CPU time spent per request, by the server process and by the PostgreSQL
 * backends serving it. Unlike req/s, which drops whenever another process
 * takes the CPU, CPU time per request barely moves on a busy machine: it is
 * the figure to compare two versions of the code by. Linux only (/proc).
 */

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU milliseconds a process has used so far, or null if it cannot be read. */
export function cpuMs(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** The backends connected to one database (PostgreSQL on this machine), and their CPU time. */
export class BackendCpu {
  private client: pg.Client | null = null;

  constructor(
    private readonly adminUrl: string,
    private readonly database: string,
  ) {}

  /** CPU ms by backend pid; null when the backends' /proc entries cannot be read (PostgreSQL elsewhere). */
  async snapshot(): Promise<Map<number, number> | null> {
    if (!this.client) {
      this.client = new pg.Client({ connectionString: this.adminUrl });
      await this.client.connect();
    }
    const { rows } = await this.client.query<{ pid: number }>("select pid from pg_stat_activity where datname = $1", [this.database]);
    const out = new Map<number, number>();
    for (const { pid } of rows) {
      const ms = cpuMs(pid);
      if (ms !== null) out.set(pid, ms);
    }
    return rows.length > 0 && out.size === 0 ? null : out;
  }

  async close(): Promise<void> {
    await this.client?.end();
    this.client = null;
  }
}

/** CPU ms used between two snapshots; a backend that appeared in between counts from zero. */
export function backendCpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}
