// connectors, credentials, proxy and logs: the /v1 commands, through the SDK.
import fs from "node:fs";
import type { CommandContext } from "./context.ts";
import { CliError, table } from "./output.ts";
import { api, entityClient, jsonFlag, needArg, pageQuery } from "./sdk-client.ts";

type Row = Record<string, unknown>;
const path = (type: string) => ({ params: { path: { connector_type: type as never } } });
const base = (c: CommandContext) => c.serverUrl ?? c.config.serverUrl;
const COLUMNS = ["connector_type", "display_name", "mode", "is_active", "has_credentials_secret_arn", "updated_at"];

function showRow(c: CommandContext, row: Row, verb: string): void {
  c.out.result(row, () => `${verb} ${String(row.connector_type)}\n${Object.entries(row).map(([k, v]) => `  ${k}: ${typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)}`).join("\n")}`);
}

export async function list(c: CommandContext): Promise<void> {
  const pb = entityClient(c);
  const page = await api(() => pb.integrations.listIntegrations({ params: { query: pageQuery(c.flags) } }), base(c));
  c.out.result(page, () => table(page.data as unknown as Row[], COLUMNS) + (page.has_more ? "\n(more: --starting-after the last id)" : ""));
}

export async function get(c: CommandContext): Promise<void> {
  const type = needArg(c.args[0], "the connector type", "connectors get TYPE");
  const pb = entityClient(c);
  const { data } = await api(() => pb.integrations.getIntegration(path(type)), base(c));
  showRow(c, data as unknown as Row, "Connector");
}

export async function connect(c: CommandContext): Promise<void> {
  const type = needArg(c.args[0], "the connector type", "connectors connect TYPE");
  const body: Row = {};
  if (typeof c.flags["display-name"] === "string") body.display_name = c.flags["display-name"];
  if (typeof c.flags.mode === "string") body.mode = c.flags.mode;
  if (typeof c.flags.shop === "string") body.shop = c.flags.shop;
  const config = jsonFlag(c.flags.config, "--config");
  if (config) body.config = config;
  const pb = entityClient(c);
  const answer = (await api(() => pb.integrations.createIntegration({ ...path(type), body: body as never }), base(c))) as Row;
  if (answer.object === "integration_oauth_required") {
    c.out.result(answer, () => `Open this URL to authorize the shop (until ${String(answer.expires_at)}):\n  ${String(answer.oauth_url)}`);
    return;
  }
  showRow(c, answer, "Connected");
}

export async function settings(c: CommandContext): Promise<void> {
  const type = needArg(c.args[0], "the connector type", "connectors settings TYPE --config JSON");
  const body: Row = {};
  if (typeof c.flags["display-name"] === "string") body.display_name = c.flags["display-name"];
  if (typeof c.flags.mode === "string") body.mode = c.flags.mode;
  const config = jsonFlag(c.flags.config, "--config");
  if (config) body.config = config;
  if (Object.keys(body).length === 0) throw new CliError("Nothing to change.", "Pass --config JSON, --display-name NAME or --mode MODE.", 2);
  await patch(c, type, body, "Updated");
}

export async function setActive(c: CommandContext, active: boolean): Promise<void> {
  const type = needArg(c.args[0], "the connector type", `connectors ${active ? "resume" : "pause"} TYPE`);
  await patch(c, type, { is_active: active }, active ? "Resumed" : "Paused");
}

async function patch(c: CommandContext, type: string, body: Row, verb: string): Promise<void> {
  const pb = entityClient(c);
  const { data } = await api(() => pb.integrations.updateIntegration({ ...path(type), body: body as never }), base(c));
  showRow(c, data as unknown as Row, verb);
}

export async function disconnect(c: CommandContext): Promise<void> {
  const type = needArg(c.args[0], "the connector type", "connectors disconnect TYPE");
  const pb = entityClient(c);
  const { data } = await api(() => pb.integrations.deleteIntegration(path(type)), base(c));
  c.out.result(data, () => `Disconnected ${type}: its credentials stay sealed for 7 days (\`patchbay connectors restore ${type}\` brings it back), then are purged.`);
}

export async function verify(c: CommandContext): Promise<void> {
  const type = needArg(c.args[0], "the connector type", "connectors verify TYPE");
  const pb = entityClient(c);
  const answer = (await api(() => pb.integrations.verifyIntegration(path(type)), base(c))) as Row;
  c.out.result(answer, () => JSON.stringify(answer, null, 2));
}

/** The credential values come from a file or stdin, never from argv (shell history, ps). */
async function readSecretInput(c: CommandContext, flag: string): Promise<string> {
  const file = c.flags[flag];
  if (typeof file === "string" && file !== "-") {
    try {
      return fs.readFileSync(file, "utf8");
    } catch {
      throw new CliError(`Cannot read ${file}.`, undefined, 2);
    }
  }
  if (process.stdin.isTTY) process.stderr.write("Reading from stdin (end with Ctrl-D)…\n");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function setCredentials(c: CommandContext): Promise<void> {
  const type = needArg(c.args[0], "the connector type", "credentials set TYPE < creds.json");
  if (c.args.length > 1) throw new CliError("Credential values are read from stdin or --from-file, never from the command line.", `patchbay credentials set ${type} --from-file creds.json`, 2);
  const raw = await readSecretInput(c, "from-file");
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new CliError("The credentials must be one JSON object, e.g. {\"secret_key\": \"…\"}.", undefined, 2);
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new CliError("The credentials must be one JSON object.", undefined, 2);
  const pb = entityClient(c);
  const { data } = await api(() => pb.integrations.putIntegrationCredentials({ ...path(type), body: body as never }), base(c));
  const row = data as unknown as Row;
  c.out.result(row, () => `Stored credentials for ${type} (sealed): ${JSON.stringify(row.credentials_masked)}`);
}

export async function deleteCredentials(c: CommandContext): Promise<void> {
  const type = needArg(c.args[0], "the connector type", "credentials delete TYPE");
  const pb = entityClient(c);
  const answer = await api(() => pb.integrations.deleteIntegrationCredentials(path(type)), base(c));
  c.out.result(answer ?? {}, () => `Removed the credentials of ${type}.`);
}

export async function proxy(c: CommandContext): Promise<void> {
  const [type, method, providerPath] = c.args;
  if (!type || !method || !providerPath) throw new CliError("proxy needs TYPE METHOD PATH.", "patchbay proxy stripe GET /v1/balance", 2);
  const url = new URL(providerPath, "http://x");
  const headers: Record<string, string> = {};
  if (typeof c.flags.header === "string") {
    const i = c.flags.header.indexOf(":");
    if (i < 1) throw new CliError("--header needs NAME:VALUE.", undefined, 2);
    headers[c.flags.header.slice(0, i).trim()] = c.flags.header.slice(i + 1).trim();
  }
  const body = c.flags["data-file"] !== undefined ? await readSecretInput(c, "data-file") : undefined;
  const pb = entityClient(c);
  const res = await api(() => pb.integrations.proxy(type, method, url.pathname, { query: Object.fromEntries(url.searchParams), body, headers }), base(c));
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON: printed as it came */
  }
  c.out.result({ status: res.status, body: parsed }, () => (typeof parsed === "string" ? parsed : JSON.stringify(parsed, null, 2)));
  if (res.status >= 400) process.exitCode = 1;
}

export async function logs(c: CommandContext): Promise<void> {
  const type = needArg(c.args[0], "the connector type", "logs TYPE");
  const pb = entityClient(c);
  const page = await api(() => pb.integrations.listIntegrationLogs({ ...path(type), params: { ...path(type).params, query: pageQuery(c.flags) } }), base(c));
  c.out.result(page, () => table(page.data as unknown as Row[], ["created_at", "purpose", "method", "path", "status", "latency_ms"]));
}

/** The provider's webhook signing secret: from stdin or --from-file (the bare secret, one line), never argv. */
export async function setWebhookSecret(c: CommandContext): Promise<void> {
  const type = needArg(c.args[0], "the connector type", "webhook-secret set TYPE < secret.txt");
  if (c.args.length > 1) throw new CliError("The secret is read from stdin or --from-file, never from the command line.", `patchbay webhook-secret set ${type} --from-file secret.txt`, 2);
  const secret = (await readSecretInput(c, "from-file")).trim();
  if (!secret) throw new CliError("No secret was given.", undefined, 2);
  const pb = entityClient(c);
  await api(() => pb.integrations.putIntegrationWebhookSecret({ ...path(type), body: { webhook_secret: secret } }), base(c));
  c.out.result({ connector_type: type, has_webhook_secret: true }, () => `Stored the webhook secret of ${type} (sealed).`);
}

export async function deleteWebhookSecret(c: CommandContext): Promise<void> {
  const type = needArg(c.args[0], "the connector type", "webhook-secret delete TYPE");
  const pb = entityClient(c);
  await api(() => pb.integrations.deleteIntegrationWebhookSecret(path(type)), base(c));
  c.out.result({ connector_type: type, has_webhook_secret: false }, () => `Removed the webhook secret of ${type}.`);
}
