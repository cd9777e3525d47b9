import { PatchbayConnectionError, PatchbayError, Patchbay } from "../../sdk/src/index.ts";
import type { CommandContext } from "./context.ts";
import { CliError } from "./output.ts";

/** The SDK client for the entity commands: the API key from --api-key or PATCHBAY_API_KEY. */
export function entityClient(ctx: CommandContext, extra: { publicKey?: string } = {}): Patchbay {
  if (!ctx.apiKey) throw new CliError("This command needs an entity API key.", "Pass --api-key ark_live_ent_… or set PATCHBAY_API_KEY (`patchbay keys create` makes one).", 2);
  return new Patchbay({ apiKey: ctx.apiKey, baseUrl: ctx.serverUrl ?? ctx.config.serverUrl, maxRetries: 2, timeout: 30_000, ...extra });
}

/** Runs an SDK call, turning its errors into the CLI's (code and hint printed). */
export async function api<T>(call: () => Promise<T>, baseUrl: string): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof PatchbayError) throw new CliError(`${err.message} (${err.code}, HTTP ${err.status}${err.request_id ? `, ${err.request_id}` : ""})`, err.hint);
    if (err instanceof PatchbayConnectionError) throw new CliError(`Cannot reach Patchbay at ${baseUrl}.`, "Start the server with `npm start` in another terminal, or point PATCHBAY_URL (or --url) at it.");
    throw err;
  }
}

export function needArg(value: string | undefined, what: string, usage: string): string {
  if (!value) throw new CliError(`Missing ${what}.`, `patchbay ${usage}`, 2);
  return value;
}

export function jsonFlag(value: unknown, flag: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  try {
    const parsed = JSON.parse(String(value)) as unknown;
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    /* below */
  }
  throw new CliError(`${flag} needs a JSON object.`, `For example ${flag} '{"key":"value"}'`, 2);
}

export function pageQuery(flags: CommandContext["flags"]): { limit?: number; starting_after?: string } {
  const q: { limit?: number; starting_after?: string } = {};
  if (flags.limit !== undefined) {
    if (typeof flags.limit !== "string" || !/^[1-9]\d{0,2}$/.test(flags.limit) || Number(flags.limit) > 100) throw new CliError("--limit needs a whole number from 1 to 100.", "For example --limit 50", 2);
    q.limit = Number(flags.limit);
  }
  if (typeof flags["starting-after"] === "string") q.starting_after = flags["starting-after"];
  return q;
}
