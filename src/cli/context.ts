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
  /** The running server's URL (--url, PATCHBAY_URL). */
  serverUrl?: string;
  /** The entity API key (--api-key, PATCHBAY_API_KEY), for the /v1, connections and /api/v3 commands. */
  apiKey?: string;
}
