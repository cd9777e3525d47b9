/**
 * Where a `node --cpu-prof` profile spent its time: self time by package
 * (or by src/ file) and the hottest functions. Used to write the notes in
 * BENCHMARKS.md:
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile> [top] [last-seconds | first:<seconds>]
 * With last-seconds, only the samples of the profile's final seconds count
 * (the harness stops a server right after its last scenario, so that window is the load);
 * with first:<seconds>, only its first seconds (the start-up).
 */
import fs from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** node_modules/<pkg> (scoped too), src/<file>, node:<internal>, or the V8 pseudo-frames. */
export function ownerOf(url: string, functionName: string): string {
  if (!url) return `(${functionName || "native"})`;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const src = /\/(src\/.+|bench\/.+|test\/.+)$/.exec(url);
  if (src) return src[1]!;
  if (url.startsWith("node:")) return url;
  return url;
}

type Window = { last: number } | { first: number } | null;

function summarise(profile: Profile, top: number, window: Window): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const at: number[] = [];
  let t = 0;
  for (const d of profile.timeDeltas) at.push((t += d));
  const from = window && "last" in window ? t - window.last * 1e6 : -Infinity;
  const to = window && "first" in window ? window.first * 1e6 : Infinity;
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    if (at[i]! >= from && at[i]! <= to) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const owner = ownerOf(node.callFrame.url, node.callFrame.functionName);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + us);
    const fn = `${node.callFrame.functionName || "(anonymous)"} ${owner}:${node.callFrame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  }
  const rows = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`)
      .join("\n");
  return `total ${(total / 1e6).toFixed(1)} s sampled\n\nself time by package / file:\n${rows(byOwner)}\n\nhottest functions (self time):\n${rows(byFunction)}\n`;
}

const [file, top, last] = process.argv.slice(2);
if (!file) {
  process.stderr.write("usage: node --import tsx bench/profile-summary.ts <file.cpuprofile> [top] [last-seconds | first:<seconds>]\n");
  process.exit(2);
}
const window: Window = !last ? null : last.startsWith("first:") ? { first: Number(last.slice(6)) } : { last: Number(last) };
process.stdout.write(summarise(JSON.parse(fs.readFileSync(file, "utf8")) as Profile, Number(top ?? 25), window));
