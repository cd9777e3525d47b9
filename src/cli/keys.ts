import type { ApiKeyView } from "../services/api-keys.ts";
import type { CommandContext } from "./context.ts";
import { CliError, table } from "./output.ts";

const DEFAULT_SCOPES = "integrations:read,integrations:write";

export async function keysCommand({ args, flags, admin, out }: CommandContext): Promise<void> {
  const [sub, id] = args;
  if (sub === "create") {
    const entity = requireFlag(flags.entity, "keys create needs --entity ENTITY_ID.");
    const mode = typeof flags.mode === "string" ? flags.mode : "live";
    const scopes = (typeof flags.scopes === "string" ? flags.scopes : DEFAULT_SCOPES).split(",").map((s) => s.trim()).filter(Boolean);
    const name = typeof flags.name === "string" ? flags.name : `${mode} key`;
    const perMinute = positiveInt(flags["rate-limit-per-minute"], "--rate-limit-per-minute");
    const burst = positiveInt(flags["rate-limit-burst"], "--rate-limit-burst");
    const rateLimit = perMinute === undefined && burst === undefined ? undefined : { per_minute: perMinute, burst };
    const key = await admin<ApiKeyView & { key: string }>("POST", `/admin/v1/entities/${entity}/api-keys`, { name, mode, scopes, rate_limit: rateLimit });
    out.result(key, () =>
      [
        `Created ${key.mode} key "${key.name}" (${key.id})`,
        `  scopes:     ${key.scopes.join(", ")}`,
        `  rate limit: ${key.rate_limit.per_minute}/min, burst ${key.rate_limit.burst}/s`,
        `  public key: ${key.public_key}`,
        `  secret key: ${key.key}`,
        "",
        "The secret key is shown this once. Store it now; Patchbay keeps only its hash.",
      ].join("\n"),
    );
    return;
  }
  if (sub === "list") {
    const entity = requireFlag(flags.entity, "keys list needs --entity ENTITY_ID.");
    const { data } = await admin<{ data: ApiKeyView[] }>("GET", `/admin/v1/entities/${entity}/api-keys`);
    out.result(data, () => table(data as unknown as Record<string, unknown>[], ["id", "name", "mode", "scopes", "last_used_at", "revoked_at"]));
    return;
  }
  if (sub === "revoke") {
    if (!id) throw new CliError("keys revoke needs the key id.", "npx patchbay keys revoke KEY_ID");
    const { data } = await admin<{ data: ApiKeyView }>("DELETE", `/admin/v1/api-keys/${id}`);
    out.result(data, () => `Revoked key ${data.id} (${data.key_prefix}…); it is refused from now on.`);
    return;
  }
  throw new CliError(`Unknown command "keys ${sub ?? ""}".`, "Use `keys create`, `keys list` or `keys revoke`.");
}

function positiveInt(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !/^[1-9]\d{0,6}$/.test(value)) throw new CliError(`${flag} needs a whole number from 1 to 1000000.`, `For example ${flag} 120`);
  return Number(value);
}

function requireFlag(value: unknown, message: string): string {
  if (typeof value !== "string" || !value) throw new CliError(message);
  return value;
}
