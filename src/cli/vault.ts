import type { RewrapProgress, VaultStatus } from "../vault/vault.ts";
import type { CommandContext } from "./context.ts";
import { CliError, table } from "./output.ts";

/**
 * `vault status` and `vault rewrap`, through the running server's admin API:
 * the server holds the key ring, and in embedded mode it alone may open the
 * database. Rewrap goes batch by batch, so it can be stopped and run again at
 * any time; what is left is always "secrets not under the newest key".
 */
export async function vaultCommand({ args, flags, admin, out }: CommandContext): Promise<void> {
  const [sub] = args;
  if (sub === "status") {
    const s = await admin<VaultStatus>("GET", "/admin/v1/vault");
    out.result(s, () => describe(s));
    if (s.unreadable > 0) throw unreadable(s);
    return;
  }
  if (sub === "rewrap") {
    const batchSize = typeof flags["batch-size"] === "string" ? Number(flags["batch-size"]) : 100;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1000) throw new CliError("--batch-size must be a whole number from 1 to 1000.");
    const start = await admin<VaultStatus>("GET", "/admin/v1/vault");
    const total = start.remaining;
    out.progress(`Rewrapping ${total} secret(s) under master key ${start.newest_key_id}…`);
    let done = 0;
    let last: RewrapProgress | VaultStatus = start;
    while (last.remaining > 0) {
      const p = await admin<RewrapProgress>("POST", "/admin/v1/vault/rewrap", { batch_size: batchSize });
      done += p.rewrapped;
      last = p;
      // On a terminal a bar redrawn in place; in a pipe or log, one line per batch.
      if (process.stderr.isTTY && !out.json) out.bar("rewrap", done, Math.max(total, done, 1));
      else out.progress(`  ${done}/${Math.max(total, done)} rewrapped, ${p.remaining} remaining`);
      // Everything left is locked by another rewrap right now: let it finish.
      if (p.rewrapped === 0 && p.remaining > 0) await new Promise((r) => setTimeout(r, 200));
    }
    out.result({ rewrapped: done, ...last }, () => `Done: ${done} rewrapped.\n${describe(last)}`);
    if (last.unreadable > 0) throw unreadable(last);
    return;
  }
  throw new CliError(`Unknown command "vault ${sub ?? ""}".`, "Use `vault status` or `vault rewrap`.");
}

function describe(s: VaultStatus): string {
  const rows = s.secrets_by_key.map((k) => ({
    key: k.key_id,
    secrets: k.secrets,
    state: k.key_id === s.newest_key_id ? "newest" : k.configured ? "older (rewrap moves these)" : "NOT CONFIGURED",
  }));
  const safe = s.remaining === 0 && s.unreadable === 0 ? `\nNothing is sealed under any key but ${s.newest_key_id}: older keys can be removed from the ring.` : "";
  return `Newest master key: ${s.newest_key_id} (ring: ${s.configured_key_ids.join(", ")})\n${table(rows, ["key", "secrets", "state"])}${safe}`;
}

function unreadable(s: VaultStatus): CliError {
  const missing = s.secrets_by_key.filter((k) => !k.configured).map((k) => k.key_id);
  return new CliError(
    `${s.unreadable} secret(s) are sealed under master key(s) the server does not have: ${missing.join(", ")}. They cannot be opened.`,
    "Add those keys back to PATCHBAY_MASTER_KEYS (after the newest), restart, and run `npx patchbay vault rewrap`.",
  );
}
