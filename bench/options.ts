import { parseArgs } from "node:util";

export interface BenchOptions {
  quick: boolean;
  /** Measured seconds per scenario. */
  durationSec: number;
  /** Unmeasured seconds before each scenario (JIT, pool connections, caches). */
  warmupSec: number;
  /** Measured seconds per table size of the list-scaling probe. */
  scaleDurationSec: number;
  connections: number;
  /** Start-ups timed per figure (the median is reported). */
  startupRuns: number;
  embedded: boolean;
  scaling: boolean;
  /** Scenario ids to run (baselines included); empty = all. */
  only: string[];
  /** Patchbay's LOG_LEVEL under load: the product default unless told. */
  logLevel: string;
  /** Run the Patchbay servers with --cpu-prof into this directory. */
  cpuProfDir: string | null;
  pgAdminUrl: string;
  /** Extra environment for the Patchbay servers (--env NAME=value, repeatable), e.g. to compare a setting. */
  patchbayEnv: Record<string, string>;
  /** Where the results markdown goes; null = bench/results/<date>[-quick].md. */
  out: string | null;
}

export const USAGE = `npm run bench -- [options]

  --quick              3 s per scenario, 1 s warm-up, one start-up per figure (about 1.5 minutes)
  --duration <s>       measured seconds per scenario (default 10)
  --warmup <s>         warm-up seconds before each scenario (default 2)
  --connections <n>    concurrent connections (default 50)
  --only <ids>         comma-separated scenario ids: constant,select,insert,same-writes,get,list,patch-fresh,patch-replay,delete-post,
                       proxy-direct,proxy-forwarder,proxy
  --no-embedded        skip the embedded-database pass
  --no-scaling         skip the list-scaling probe
  --log-level <level>  Patchbay's LOG_LEVEL under load (default info, the product default)
  --cpu-prof <dir>     run Patchbay with node --cpu-prof, profiles written to <dir>
  --env NAME=value     extra environment for the Patchbay servers (repeatable)
  --pg-url <url>       PostgreSQL admin URL (default postgres://postgres@127.0.0.1:5432/postgres)
  --out <file>         results file (default bench/results/<date>.md, <date>-quick.md with --quick)
`;

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got "${raw}"`);
  return n;
}

export function parseOptions(argv: string[]): BenchOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: "boolean", short: "h" },
      quick: { type: "boolean" },
      duration: { type: "string" },
      warmup: { type: "string" },
      connections: { type: "string" },
      only: { type: "string" },
      "no-embedded": { type: "boolean" },
      "no-scaling": { type: "boolean" },
      "log-level": { type: "string" },
      "cpu-prof": { type: "string" },
      "pg-url": { type: "string" },
      env: { type: "string", multiple: true },
      out: { type: "string" },
    },
  });
  if (values.help) return "help";
  const quick = values.quick ?? false;
  const durationSec = positive("duration", values.duration, quick ? 3 : 10);
  return {
    quick,
    durationSec,
    warmupSec: positive("warmup", values.warmup, quick ? 1 : 2),
    scaleDurationSec: Math.min(durationSec, 5),
    connections: Math.round(positive("connections", values.connections, 50)),
    startupRuns: quick ? 1 : 3,
    embedded: !values["no-embedded"],
    scaling: !values["no-scaling"],
    only: values.only ? values.only.split(",").map((s) => s.trim()).filter(Boolean) : [],
    logLevel: values["log-level"] ?? "info",
    cpuProfDir: values["cpu-prof"] ?? null,
    pgAdminUrl: values["pg-url"] ?? "postgres://postgres@127.0.0.1:5432/postgres",
    patchbayEnv: Object.fromEntries(
      (values.env ?? []).map((pair) => {
        const eq = pair.indexOf("=");
        if (eq <= 0) throw new Error(`--env wants NAME=value, got "${pair}"`);
        return [pair.slice(0, eq), pair.slice(eq + 1)];
      }),
    ),
    out: values.out ?? null,
  };
}
