// Seal+open throughput of the vault's envelope encryption for a 1 KB blob, on this machine.
//   node --import tsx bench/vault.ts [seconds]
// One op = seal (fresh data key, AES-256-GCM blob, AES-256-GCM key wrap) + open (unwrap, decrypt),
// in one thread, crypto only (no database).
import { randomBytes } from "node:crypto";
import os from "node:os";
import { parseMasterKeys } from "../src/config.ts";
import { KeyRing, openEnvelope, sealEnvelope } from "../src/vault/envelope.ts";

const seconds = Number(process.argv[2] ?? 3);
const ring = new KeyRing(parseMasterKeys(`bench:${randomBytes(32).toString("base64")}`));
const aad = Buffer.from(JSON.stringify(["patchbay.vault.v1", "entity", "owner", "connector.credentials"]));
const blob = randomBytes(1024);

function roundTrip(): void {
  const sealed = sealEnvelope(ring, aad, blob);
  const opened = openEnvelope(ring, aad, sealed);
  if (opened.length !== blob.length) throw new Error("round trip lost bytes");
}

function measure(ms: number): { ops: number; perSecond: number } {
  let ops = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 100; i++) roundTrip();
    ops += 100;
    now = process.hrtime.bigint();
  }
  return { ops, perSecond: ops / (Number(now - start) / 1e9) };
}

measure(500); // warm-up
const runs = [measure((seconds * 1000) / 3), measure((seconds * 1000) / 3), measure((seconds * 1000) / 3)];
const best = Math.max(...runs.map((r) => r.perSecond));
const median = runs.map((r) => r.perSecond).sort((a, b) => a - b)[1]!;
process.stdout.write(
  [
    `vault seal+open, 1 KB blob, ${os.cpus()[0]?.model ?? "cpu"} (${os.cpus().length} cores), Node ${process.version}`,
    `  runs: ${runs.map((r) => Math.round(r.perSecond)).join(", ")} ops/s`,
    `  median ${Math.round(median)} ops/s (${(1e6 / median).toFixed(1)} µs per seal+open), best ${Math.round(best)} ops/s`,
  ].join("\n") + "\n",
);
