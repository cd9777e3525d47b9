// Every CLI command with the flags it takes: the one table that drives
// parsing (strict, per command), `--help`, `help <command>` and completion.
// The command modules are imported when their command runs, so a call loads
// only what it needs (the compiled CLI starts in well under 300 ms).
import type { CommandContext } from "./context.ts";

export interface FlagSpec {
  type: "string" | "boolean";
  value?: string;
  description: string;
}

export interface CommandSpec {
  /** The words that name it: `keys create`. */
  name: string;
  summary: string;
  /** Positional arguments, as shown in the usage line. */
  args?: string;
  flags: Record<string, FlagSpec>;
  /** Extra lines for `--help`. */
  notes?: string;
  run(ctx: CommandContext): Promise<void>;
}

export const GLOBAL_FLAGS: Record<string, FlagSpec> = {
  json: { type: "boolean", description: "Machine output (JSON on stdout; errors as {error, hint})" },
  help: { type: "boolean", description: "Show the command's help" },
  url: { type: "string", value: "URL", description: "The running server (PATCHBAY_URL; default http://127.0.0.1:8080)" },
  "admin-token": { type: "string", value: "TOKEN", description: "Admin token (PATCHBAY_ADMIN_TOKEN, or data/admin-token)" },
  "api-key": { type: "string", value: "KEY", description: "Entity API key (PATCHBAY_API_KEY)" },
};

const s = (value: string, description: string): FlagSpec => ({ type: "string", value, description });
const b = (description: string): FlagSpec => ({ type: "boolean", description });

// Existing command modules take `args` as [sub, ...rest].
const legacy = (load: () => Promise<(ctx: CommandContext) => Promise<void>>, sub?: string) => async (ctx: CommandContext) =>
  (await load())({ ...ctx, args: sub ? [sub, ...ctx.args] : ctx.args });
const entities = () => import("./entities.ts").then((m) => m.entitiesCommand);
const keys = () => import("./keys.ts").then((m) => m.keysCommand);
const vault = () => import("./vault.ts").then((m) => m.vaultCommand);
const conn = () => import("./connectors.ts");
const surf = () => import("./surfaces.ts");

const TYPE = "TYPE";
const PAGE = { limit: s("N", "Page size (1–100)"), "starting-after": s("ID", "The page after this id") };

export const COMMANDS: CommandSpec[] = [
  { name: "entities create", summary: "Create an entity", flags: { name: s("NAME", "Its name (required)") }, run: legacy(entities, "create") },
  { name: "entities list", summary: "List entities", flags: {}, run: legacy(entities, "list") },
  {
    name: "keys create",
    summary: "Create an API key for an entity (the secret is shown once)",
    flags: {
      entity: s("ENTITY_ID", "The entity (required)"),
      mode: s("live|test", "Key mode (default live)"),
      scopes: s("a,b", "Scopes (default integrations:read,integrations:write)"),
      name: s("NAME", "A label"),
      "rate-limit-per-minute": s("N", "Own limit per minute (default: the mode's)"),
      "rate-limit-burst": s("N", "Own burst per second"),
    },
    run: legacy(keys, "create"),
  },
  { name: "keys list", summary: "List an entity's API keys", flags: { entity: s("ENTITY_ID", "The entity (required)") }, run: legacy(keys, "list") },
  { name: "keys roll", summary: "Roll an API key: a new secret, the old one valid for --overlap", args: "KEY_ID", flags: { overlap: s("SECONDS", "How long the old secret keeps working (default the server's)") }, run: async (c) => (await surf()).keysRoll(c) },
  { name: "keys revoke", summary: "Revoke an API key at once", args: "KEY_ID", flags: {}, run: legacy(keys, "revoke") },
  {
    name: "audit",
    summary: "An entity's audit log, newest first (the API key's entity, or --entity with the admin token)",
    flags: { entity: s("ENTITY_ID", "Any entity, through the admin API (default: the API key's)"), "target-type": s("TYPE", "Only this target type"), "target-id": s("ID", "Only this target"), since: s("24h|TIME", "Since a duration ago or a time"), ...PAGE },
    run: legacy(() => import("./audit.ts").then((m) => m.auditCommand)),
  },

  { name: "connectors list", summary: "The entity's connectors", flags: PAGE, run: async (c) => (await conn()).list(c) },
  { name: "connectors get", summary: "One connector", args: TYPE, flags: {}, run: async (c) => (await conn()).get(c) },
  {
    name: "connectors connect",
    summary: "Connect a type (Mode A: then set its credentials; shopify: prints the OAuth URL); again within 7 days of a disconnect restores it",
    args: TYPE,
    flags: { "display-name": s("NAME", "Display name"), mode: s("live|sandbox", "Mode (default: the key's)"), config: s("JSON", "Config object"), shop: s("DOMAIN", "shopify: the shop") },
    run: async (c) => (await conn()).connect(c),
  },
  {
    name: "connectors settings",
    summary: "Change a connector's settings (config is merged, RFC 7396)",
    args: TYPE,
    flags: { "display-name": s("NAME", "Display name"), mode: s("live|sandbox", "Mode"), config: s("JSON", "Config to merge (null removes a key)") },
    run: async (c) => (await conn()).settings(c),
  },
  { name: "connectors pause", summary: "Pause (is_active=false; credentials kept)", args: TYPE, flags: {}, run: async (c) => (await conn()).setActive(c, false) },
  { name: "connectors resume", summary: "Resume (is_active=true)", args: TYPE, flags: {}, run: async (c) => (await conn()).setActive(c, true) },
  { name: "connectors disconnect", summary: "Disconnect (credentials kept sealed 7 days, then purged)", args: TYPE, flags: {}, run: async (c) => (await conn()).disconnect(c) },
  { name: "connectors restore", summary: "Restore a connector disconnected within 7 days, with its credentials", args: TYPE, flags: {}, run: async (c) => (await conn()).connect(c) },
  { name: "connectors verify", summary: "Check the stored credentials against the provider", args: TYPE, flags: {}, run: async (c) => (await conn()).verify(c) },
  {
    name: "credentials set",
    summary: "Replace a connector's credentials: a JSON object read from stdin or --from-file, never argv",
    args: TYPE,
    flags: { "from-file": s("FILE", "Read the JSON object from this file (default: stdin)") },
    notes: "Example: patchbay credentials set stripe < stripe.json",
    run: async (c) => (await conn()).setCredentials(c),
  },
  {
    name: "webhook-secret set",
    summary: "Store the provider's webhook signing secret: read from stdin or --from-file, never argv",
    args: TYPE,
    flags: { "from-file": s("FILE", "Read the secret from this file (default: stdin)") },
    run: async (c) => (await conn()).setWebhookSecret(c),
  },
  { name: "webhook-secret delete", summary: "Remove the provider's webhook signing secret", args: TYPE, flags: {}, run: async (c) => (await conn()).deleteWebhookSecret(c) },
  { name: "catalog", summary: "The connector types and what each needs", flags: {}, run: async (c) => (await surf()).catalog(c) },
  { name: "credentials delete", summary: "Remove a connector's credentials", args: TYPE, flags: {}, run: async (c) => (await conn()).deleteCredentials(c) },
  {
    name: "proxy",
    summary: "Call the provider's API with the stored credentials; prints the provider's answer",
    args: "TYPE METHOD PATH",
    flags: { "data-file": s("FILE|-", "Request body from a file, or - for stdin"), header: s("K:V", "An extra header") },
    notes: "Example: patchbay proxy stripe GET /v1/balance",
    run: async (c) => (await conn()).proxy(c),
  },
  { name: "logs", summary: "A connector's provider-call log", args: TYPE, flags: PAGE, run: async (c) => (await conn()).logs(c) },
  {
    name: "request-logs",
    summary: "The entity's API request log, newest first (key with request_logs:read, or --entity)",
    flags: {
      status: s("404|4xx", "One status or a class"),
      method: s("METHOD", "Only this method"),
      "path-prefix": s("/PATH", "Paths starting with this"),
      "key-id": s("KEY_ID", "Only this API key's requests"),
      since: s("1h|TIME", "Since a duration ago or a time"),
      until: s("1h|TIME", "Until a duration ago or a time"),
      ...PAGE,
      "ending-before": s("ID", "The page of newer entries before this id"),
      count: b("Also print how many match in all (include_count)"),
      entity: s("ENTITY_ID", "Any entity's log through the admin API (admin token) instead of the API key's"),
    },
    notes: "Example: patchbay request-logs --status 4xx --since 1h --path-prefix /v1/integrations",
    run: async (c) => (await import("./request-logs.ts")).requestLogsCommand(c),
  },

  { name: "connections list", summary: "A customer's connections", flags: { customer: s("CUSTOMER_ID", "The customer (required)") }, run: async (c) => (await surf()).connectionsList(c) },
  { name: "connections get", summary: "One connection (mints an access token for it)", args: "CONNECTION_ID", flags: {}, run: async (c) => (await surf()).connectionsGet(c) },
  { name: "shop-integrations list", summary: "Shop integrations (/api/v3; needs --public-key)", flags: { "public-key": s("PK", "The key's public_key (PATCHBAY_PUBLIC_KEY)") }, run: async (c) => (await surf()).shopList(c) },
  { name: "shop-integrations get", summary: "One shop integration", args: "ID", flags: { "public-key": s("PK", "The key's public_key (PATCHBAY_PUBLIC_KEY)") }, run: async (c) => (await surf()).shopGet(c) },
  {
    name: "shop-integrations update",
    summary: "Change a shop integration's settings (JSON:API PATCH)",
    args: "ID",
    flags: { "public-key": s("PK", "The key's public_key (PATCHBAY_PUBLIC_KEY)"), set: s("JSON", "The fields to change, e.g. '{\"shop_name\":\"X\"}' (required)") },
    run: async (c) => (await surf()).shopUpdate(c),
  },
  { name: "shop-integrations delete", summary: "Disconnect a shop integration (restorable within the recovery window)", args: "ID", flags: { "public-key": s("PK", "The key's public_key (PATCHBAY_PUBLIC_KEY)") }, run: async (c) => (await surf()).shopDelete(c) },
  {
    name: "shop-integrations logs",
    summary: "Exception logs of one shop integration, or of all",
    args: "[ID]",
    flags: { "public-key": s("PK", "The key's public_key (PATCHBAY_PUBLIC_KEY)"), "page-size": s("N", "Entries per page (1-100, default 25)"), cursor: s("TIME", "Entries older than this (the Link header's cursor)") },
    run: async (c) => (await surf()).shopLogs(c),
  },
  { name: "webhooks list", summary: "Webhook endpoints", flags: {}, run: async (c) => (await surf()).webhooksList(c) },
  {
    name: "webhooks create",
    summary: "Create a webhook endpoint (prints its signing secret once)",
    flags: { "endpoint-url": s("URL", "Receiver URL (required)"), events: s("a,b", "Event types (default all)"), description: s("TEXT", "A note") },
    run: async (c) => (await surf()).webhooksCreate(c),
  },
  { name: "webhooks get", summary: "One webhook endpoint", args: "ENDPOINT_ID", flags: {}, run: async (c) => (await surf()).webhooksGet(c) },
  {
    name: "webhooks update",
    summary: "Change a webhook endpoint (URL, events, description, status)",
    args: "ENDPOINT_ID",
    flags: { "endpoint-url": s("URL", "Receiver URL"), events: s("a,b", "Event types"), description: s("TEXT", "A note"), status: s("active|paused|disabled", "Status (disabled is permanent)") },
    run: async (c) => (await surf()).webhooksUpdate(c),
  },
  { name: "webhooks rotate-secret", summary: "A new signing secret (shown once); the old one signs 24 h more", args: "ENDPOINT_ID", flags: {}, run: async (c) => (await surf()).webhooksRotate(c) },
  { name: "webhooks test", summary: "Queue a webhook.test event to an endpoint", args: "ENDPOINT_ID", flags: {}, run: async (c) => (await surf()).webhooksTest(c) },
  { name: "webhooks retry", summary: "Send a delivery again, now", args: "ENDPOINT_ID DELIVERY_ID", flags: {}, run: async (c) => (await surf()).webhooksRetry(c) },
  { name: "webhooks delete", summary: "Delete a webhook endpoint", args: "ENDPOINT_ID", flags: {}, run: async (c) => (await surf()).webhooksDelete(c) },
  { name: "webhooks deliveries", summary: "An endpoint's deliveries", args: "ENDPOINT_ID", flags: PAGE, run: async (c) => (await surf()).deliveries(c) },

  {
    name: "listen",
    summary: "Forward the entity's events, signed, to a local URL (a temporary webhook endpoint) until Ctrl-C",
    flags: {
      "forward-to": s("URL", "Where each event is POSTed (required)"),
      events: s("a,b", "Event types (default all: *)"),
      port: s("PORT", "The listener's port on 127.0.0.1 (default any free one)"),
      "public-url": s("URL", "The listener's address as the server reaches it (a tunnel), if not 127.0.0.1"),
    },
    notes:
      "Example: patchbay listen --forward-to http://localhost:4242/webhook\n" +
      "  It prints the signing secret; each body and its Arcus-Signature reach the app unchanged, and the\n" +
      "  app's status is the delivery's. A server on this machine needs PATCHBAY_WEBHOOK_ALLOW_PRIVATE=true.",
    run: async (c) => (await import("./listen.ts")).listenCommand(c),
  },
  { name: "migrate", summary: "Apply pending migrations without serving", flags: {}, run: legacy(() => import("./migrate.ts").then((m) => m.migrateCommand)) },
  {
    name: "backup",
    summary: "Copy the embedded database to FILE (server stopped; never the master key)",
    flags: { out: s("FILE", "Where the backup goes (required; mode 0600)"), force: b("Overwrite FILE if it exists") },
    notes: "PostgreSQL: use pg_dump (README, Backups).\n  Keep the master key apart from the backup: it is never in it.",
    run: async (c) => (await import("./backup.ts")).backupCommand(c),
  },
  {
    name: "restore",
    summary: "Restore a backup into an empty data dir (PATCHBAY_DATA_DIR), then put the master key back",
    args: "FILE",
    flags: {},
    notes: "Example: PATCHBAY_DATA_DIR=./data-restored patchbay restore patchbay-2026-12-01.tar.gz",
    run: async (c) => (await import("./backup.ts")).restoreCommand(c),
  },
  { name: "master-key new", summary: "Print a new master key", flags: {}, run: legacy(() => import("./master-key.ts").then((m) => m.masterKeyCommand), "new") },
  { name: "vault status", summary: "Secrets per key version", flags: {}, run: legacy(vault, "status") },
  { name: "vault rewrap", summary: "Re-seal every secret under the newest key", flags: { "batch-size": s("N", "Secrets per batch (default 100)") }, run: legacy(vault, "rewrap") },
  {
    name: "demo-gateway",
    summary: "The demo retailer gateway, on its own",
    flags: { port: s("PORT", "Port (default 4010)"), host: s("HOST", "Host (default 127.0.0.1)") },
    run: legacy(() => import("./demo-gateway.ts").then((m) => m.demoGatewayCommand)),
  },
  { name: "completion", summary: "Print the shell completion script", args: "bash|zsh", flags: {}, notes: 'Install: eval "$(npx patchbay completion bash)" in ~/.bashrc (zsh: ~/.zshrc)', run: async (c) => (await import("./completion.ts")).completionCommand(c, { commands: COMMANDS, globalFlags: GLOBAL_FLAGS }) },
];

/** The command the words start with (longest name first), and the words after it. */
export function findCommand(words: string[]): { spec: CommandSpec; rest: string[] } | undefined {
  for (const n of [2, 1]) {
    const name = words.slice(0, n).join(" ");
    const spec = COMMANDS.find((c) => c.name === name);
    if (spec && words.length >= n) return { spec, rest: words.slice(n) };
  }
  return undefined;
}

export const EXIT_CODES = [
  [0, "success"],
  [1, "failed: an error from the server (code, hint), server unreachable, a failed check"],
  [2, "usage: an unknown command or flag, a missing argument"],
] as const;

function flagLines(flags: Record<string, FlagSpec>): string[] {
  return Object.entries(flags).map(([name, f]) => `  --${`${name}${f.value ? ` ${f.value}` : ""}`.padEnd(30)} ${f.description}`);
}

export function commandHelp(spec: CommandSpec): string {
  return [
    `patchbay ${spec.name}${spec.args ? ` ${spec.args}` : ""}${Object.keys(spec.flags).length ? " [flags]" : ""}`,
    "",
    `  ${spec.summary}`,
    ...(spec.notes ? ["", `  ${spec.notes}`] : []),
    ...(Object.keys(spec.flags).length ? ["", "Flags:", ...flagLines(spec.flags)] : []),
    "",
    "Global flags:",
    ...flagLines(GLOBAL_FLAGS),
  ].join("\n");
}

export function mainHelp(version: string): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length + (c.args ? c.args.length + 1 : 0)));
  return [
    `patchbay ${version} — the Patchbay command line (talks to a running server's HTTP API)`,
    "",
    "Usage: patchbay <command> [args] [flags]    patchbay help <command>    patchbay --version",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${`${c.name}${c.args ? ` ${c.args}` : ""}`.padEnd(width)}  ${c.summary.length > 96 - width ? `${c.summary.slice(0, 95 - width)}…` : c.summary}`),
    "",
    "Global flags:",
    ...flagLines(GLOBAL_FLAGS),
    "",
    "Exit codes:",
    ...EXIT_CODES.map(([code, what]) => `  ${code}  ${what}`),
  ].join("\n");
}
