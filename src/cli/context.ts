import type { Config } from "../config.ts";
import type { AdminClient } from "./admin-client.ts";
import type { Output } from "./output.ts";

/** What every command is handed: its positionals and flags, the config, the admin client and the output. */
export interface CommandContext {
  args: string[];
  flags: Record<string, string | boolean | undefined>;
  config: Config;
  admin: AdminClient;
  out: Output;
}
