import type { AuditEventView } from "../services/audit.ts";
import type { CommandContext } from "./context.ts";
import { CliError, table } from "./output.ts";
import { api, entityClient } from "./sdk-client.ts";

interface AuditPage {
  data: AuditEventView[];
  has_more: boolean;
}

const UNITS_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `patchbay audit --entity ID [--target-type T] [--target-id ID] [--since 24h|ISO] [--limit N] [--starting-after ID]` */
export async function auditCommand(ctx: CommandContext): Promise<void> {
  const { args, flags, admin, out } = ctx;
  if (args.length > 0) throw new CliError(`Unknown command "audit ${args.join(" ")}".`, "npx patchbay audit --entity ENTITY_ID [--target-type connector] [--since 24h]");
  const entity = flags.entity;
  // Without --entity: the API key's own entity (GET /v1/audit_events, scope audit:read).
  if ((typeof entity !== "string" || !entity) && !ctx.apiKey) throw new CliError("audit needs --entity ENTITY_ID (with the admin token), or an entity API key.", "`npx patchbay entities list` shows the ids; or pass --api-key / set PATCHBAY_API_KEY.");
  const query = new URLSearchParams();
  const limit = flags.limit;
  if (limit !== undefined) {
    if (typeof limit !== "string" || !/^[1-9]\d{0,2}$/.test(limit) || Number(limit) > 100) throw new CliError("--limit needs a whole number from 1 to 100.", "For example --limit 50");
    query.set("limit", limit);
  }
  for (const [flag, param] of [["target-type", "target_type"], ["target-id", "target_id"], ["starting-after", "starting_after"]] as const) {
    const value = flags[flag];
    if (typeof value === "string" && value) query.set(param, value);
  }
  if (flags.since !== undefined) query.set("created_gte", sinceTime(flags.since, new Date()));

  const qs = query.toString();
  const page =
    typeof entity === "string" && entity
      ? await admin<AuditPage>("GET", `/admin/v1/entities/${encodeURIComponent(entity)}/audit_events${qs ? `?${qs}` : ""}`)
      : ((await api(() => entityClient(ctx).audit.listAuditEvents({ params: { query: Object.fromEntries(query) as never } }), ctx.serverUrl ?? ctx.config.serverUrl)) as unknown as AuditPage);
  out.result(page, () => {
    const rows = page.data.map((e) => ({
      created_at: e.created_at,
      actor: e.actor.id === null ? e.actor.type : `${e.actor.type}:${e.actor.id}`,
      action: e.action,
      target: `${e.target.type}:${e.target.id}`,
      changes: summarizeChanges(e.changes),
    }));
    const more = page.has_more ? `\n(more entries: add --starting-after ${page.data.at(-1)!.id})` : "";
    return table(rows, ["created_at", "actor", "action", "target", "changes"]) + more;
  });
}

/** `--since` takes an RFC 3339 time or a duration back from now: 30m, 24h, 7d. */
export function sinceTime(value: unknown, now: Date): string {
  if (typeof value === "string") {
    const rel = /^(\d{1,6})([mhd])$/.exec(value);
    if (rel) return new Date(now.getTime() - Number(rel[1]) * UNITS_MS[rel[2]!]!).toISOString();
    if (/^\d{4}-\d\d-\d\d(T[\d:.]+(Z|[+-]\d\d:\d\d))?$/.test(value) && !Number.isNaN(Date.parse(value))) return new Date(value).toISOString();
  }
  throw new CliError("--since needs a time (2025-01-31T00:00:00Z, 2025-01-31) or a duration back from now (30m, 24h, 7d).", "For example --since 24h");
}

/** `field: before → after` per changed field, shortened to fit a table cell. */
function summarizeChanges(changes: AuditEventView["changes"]): string {
  const parts = Object.entries(changes).map(([field, { before, after }]) => `${field}: ${short(before)} → ${short(after)}`);
  const text = parts.join("; ");
  return text.length > 100 ? `${text.slice(0, 99)}…` : text;
}

function short(value: unknown): string {
  const s = typeof value === "string" ? value : JSON.stringify(value);
  return s.length > 30 ? `${s.slice(0, 29)}…` : s;
}
