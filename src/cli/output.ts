/** Human output by default, `--json` for scripts. */
export interface Output {
  json: boolean;
  result(value: unknown, human: () => string): void;
  progress(line: string): void;
  /** A progress bar on stderr, redrawn in place, only when stderr is a terminal (and not --json); elsewhere nothing. */
  bar(label: string, done: number, total: number): void;
}

/** `label [#######.............]  35%  7/20`: the bar's one line (no colour, fits 100 columns). */
export function renderBar(label: string, done: number, total: number, width = 30): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * width);
  return `${label.slice(0, 40)} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}%  ${done}/${total}`;
}

export function createOutput(json: boolean): Output {
  return {
    json,
    result(value, human) {
      process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
    },
    progress(line) {
      // Progress goes to stderr so `--json` output stays parseable.
      process.stderr.write(`${line}\n`);
    },
    bar(label, done, total) {
      if (json || !process.stderr.isTTY) return;
      process.stderr.write(`\r\x1b[2K${renderBar(label, done, total)}${done >= total ? "\n" : ""}`);
    },
  };
}

export const TABLE_WIDTH = 100;

export function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return "(none)";
  const cells = rows.map((r) => columns.map((c) => (r[c] === null || r[c] === undefined ? "-" : Array.isArray(r[c]) ? (r[c] as unknown[]).join(",") : String(r[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  // Fit TABLE_WIDTH columns, cells cut with an ellipsis (--json has them whole): the widest of the other columns
  // gives way first, down to 20 characters (ids stay recognisable by their start), then the last one.
  const over = () => widths.reduce((a, w) => a + w, 0) + 2 * (columns.length - 1) - TABLE_WIDTH;
  while (over() > 0) {
    const others = widths.slice(0, -1);
    const widest = others.indexOf(Math.max(...others));
    if (widest >= 0 && widths[widest]! > 20) widths[widest]!--;
    else if (widths.at(-1)! > 12) widths[widths.length - 1]!--;
    else break;
  }
  const fit = (v: string, w: number) => (v.length > w ? `${v.slice(0, w - 1)}…` : v.padEnd(w));
  const line = (vals: string[]) => vals.map((v, i) => fit(v, widths[i]!)).join("  ").trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join("\n");
}

/** An error the CLI reports as `error: …` (+ `hint: …`) and exit code 1. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    /** The process exit code (README, CLI: 1 failed, 2 usage). */
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
