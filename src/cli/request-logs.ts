// `patchbay request-logs`: the entity's API request log (GET /v1/request_logs with an API key that has
// request_logs:read, or the operator's GET /admin/v1/entities/{id}/request_logs with --entity).
import type { RequestLogView } from "../services/request-logs.ts";
import { sinceTime } from "./audit.ts";
import type { CommandContext } from "./context.ts";
import { CliError, table } from "./output.ts";
import { api, entityClient, pageQuery } from "./sdk-client.ts";

interface Page {
  data: RequestLogView[];
  has_more: boolean;
  total_count?: number;
}

/** The query from the flags, checked here so a typo is a usage error (exit 2), not a server round trip. */
export function requestLogQuery(flags: CommandContext["flags"], now = new Date()): Record<string, string | number | boolean> {
  const q: Record<string, string | number | boolean> = { ...pageQuery(flags) };
  const str = (name: string) => (typeof flags[name] === "string" ? (flags[name] as string) : undefined);
  const status = str("status");
  if (status !== undefined) {
    if (!/^([1-5]\d\d|[1-5]xx)$/i.test(status)) throw new CliError("--status needs a status (404) or a class (4xx).", "For example --status 4xx", 2);
    q.status = status.toLowerCase();
  }
  const method = str("method");
  if (method !== undefined) q.method = method.toUpperCase();
  const prefix = str("path-prefix");
  if (prefix !== undefined) {
    if (!prefix.startsWith("/")) throw new CliError("--path-prefix starts with /.", "For example --path-prefix /v1/integrations", 2);
    q.path_prefix = prefix;
  }
  const key = str("key-id");
  if (key !== undefined) q.api_key_id = key;
  const before = str("ending-before");
  if (before !== undefined) q.ending_before = before;
  if (flags.since !== undefined) q.created_gte = sinceTime(flags.since, now);
  if (flags.until !== undefined) q.created_lte = sinceTime(flags.until, now);
  if (flags.count === true) q.include_count = true;
  return q;
}

const COLUMNS = ["created_at", "method", "status", "latency_ms", "mode", "client_ip", "path"];

export async function requestLogsCommand(c: CommandContext): Promise<void> {
  if (c.args.length > 0) throw new CliError(`Unexpected argument "${c.args[0]}".`, "patchbay request-logs [--status 4xx] [--since 1h] …", 2);
  const query = requestLogQuery(c.flags);
  const entity = c.flags.entity;
  let page: Page;
  if (typeof entity === "string" && entity) {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
    page = await c.admin<Page>("GET", `/admin/v1/entities/${encodeURIComponent(entity)}/request_logs${qs ? `?${qs}` : ""}`);
  } else {
    const pb = entityClient(c);
    page = (await api(() => pb.requestLogs.listRequestLogs({ params: { query: query as never } }), c.serverUrl ?? c.config.serverUrl)) as unknown as Page;
  }
  c.out.result(page, () => {
    const rows = page.data.map((r) => ({ ...r, created_at: r.created_at.replace("T", " ").replace(/\.\d+Z$/, "Z") }));
    const count = page.total_count === undefined ? "" : `\n${page.total_count} matching in all`;
    const more = page.has_more ? `\n(more: --starting-after ${page.data.at(-1)!.id})` : "";
    return table(rows, COLUMNS) + count + more;
  });
}
