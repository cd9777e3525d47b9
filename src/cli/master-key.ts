import { generateMasterKey } from "../vault/key-ring.ts";
import type { CommandContext } from "./context.ts";
import { CliError } from "./output.ts";

/** `master-key new`: prints a fresh master key entry for PATCHBAY_MASTER_KEYS. Touches nothing else. */
export async function masterKeyCommand({ args, config, out }: CommandContext): Promise<void> {
  const [sub] = args;
  if (sub !== "new") throw new CliError(`Unknown command "master-key ${sub ?? ""}".`, "Use `npx patchbay master-key new`.");
  const entry = generateMasterKey();
  const id = entry.slice(0, entry.indexOf(":"));
  const ring = config.masterKeys ? `${entry},$PATCHBAY_MASTER_KEYS` : entry;
  out.result({ id, entry }, () =>
    [
      `New master key ${id}:`,
      "",
      `  ${entry}`,
      "",
      config.masterKeys
        ? "To rotate: put it first in the ring of EVERY Patchbay process and restart them, one at a time:"
        : "Give it to every Patchbay process (the same value everywhere):",
      `  PATCHBAY_MASTER_KEYS="${ring}"`,
      ...(config.masterKeys
        ? ["then run `npx patchbay vault rewrap`; when it reports 0 remaining, remove the old keys from the ring."]
        : []),
      "",
      "Keep a copy where your backups are not: without it no sealed secret can be opened. Patchbay stores it nowhere.",
    ].join("\n"),
  );
}
