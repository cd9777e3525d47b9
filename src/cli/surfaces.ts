// keys roll, connections, shop integrations, webhook endpoints and deliveries.
import type { CommandContext } from "./context.ts";
import { CliError, table } from "./output.ts";
import { api, entityClient, jsonFlag, needArg, pageQuery } from "./sdk-client.ts";

type Row = Record<string, unknown>;
const base = (c: CommandContext) => c.serverUrl ?? c.config.serverUrl;

export async function keysRoll(c: CommandContext): Promise<void> {
  const id = needArg(c.args[0], "the key id", "keys roll KEY_ID [--overlap SECONDS]");
  const body: Row = {};
  if (c.flags.overlap !== undefined) {
    if (typeof c.flags.overlap !== "string" || !/^\d{1,7}$/.test(c.flags.overlap)) throw new CliError("--overlap needs a number of seconds.", "For example --overlap 3600", 2);
    body.overlap_seconds = Number(c.flags.overlap);
  }
  const key = await c.admin<Row>("POST", `/admin/v1/api-keys/${encodeURIComponent(id)}/roll`, body);
  c.out.result(key, () => `Rolled key ${id}.\n  new secret key: ${String(key.key)}\n\nThe secret key is shown this once. Store it now.`);
}

export async function connectionsList(c: CommandContext): Promise<void> {
  const customer = c.flags.customer;
  if (typeof customer !== "string" || !customer) throw new CliError("connections list needs --customer CUSTOMER_ID.", undefined, 2);
  const pb = entityClient(c);
  const answer = (await api(() => pb.connections.listConnections({ params: { query: { customer_id: customer } } }), base(c))) as unknown;
  const rows = (Array.isArray(answer) ? answer : ((answer as { data?: Row[] }).data ?? [])) as Row[];
  c.out.result(answer, () => table(rows, ["connection_id", "customer_id", "retailer_id", "status", "email"]));
}

export async function connectionsGet(c: CommandContext): Promise<void> {
  const id = needArg(c.args[0], "the connection id", "connections get CONNECTION_ID");
  const pb = entityClient(c);
  const { connection_token } = await api(() => pb.connections.createConnectionToken({ params: { path: { connection_id: id } }, body: { scope: "access" } }), base(c));
  const row = (await api(() => pb.withConnectionToken(connection_token).connections.getConnection({ params: { path: { connection_id: id } } }), base(c))) as unknown as Row;
  c.out.result(row, () => Object.entries(row).map(([k, v]) => `${k}: ${String(v)}`).join("\n"));
}

/** /api/v3 takes HTTP Basic: the key's public_key as the user name. */
function shopClient(c: CommandContext) {
  const publicKey = typeof c.flags["public-key"] === "string" ? c.flags["public-key"] : process.env.PATCHBAY_PUBLIC_KEY;
  if (!publicKey) throw new CliError("shop-integrations needs the key's public_key.", "Pass --public-key pk_… or set PATCHBAY_PUBLIC_KEY.", 2);
  return entityClient(c, { publicKey });
}

function shopId(c: CommandContext, usage: string): number {
  const raw = needArg(c.args[0], "the integration id", usage);
  if (!/^[1-9]\d{0,15}$/.test(raw)) throw new CliError(`"${raw}" is not an integration id: ids are whole numbers.`, "`patchbay shop-integrations list` shows them.", 2);
  return Number(raw);
}

export async function shopGet(c: CommandContext): Promise<void> {
  const id = shopId(c, "shop-integrations get ID");
  const doc = (await api(() => shopClient(c).shopIntegrations.getShopIntegration({ params: { path: { id } } }), base(c))) as unknown as { data: { id: string; attributes?: Row } & Row };
  const row: Row = { id: doc.data.id, ...(doc.data.attributes ?? doc.data) };
  c.out.result(doc, () => Object.entries(row).map(([k, v]) => `${k}: ${v !== null && typeof v === "object" ? JSON.stringify(v) : String(v)}`).join("\n"));
}

export async function shopUpdate(c: CommandContext): Promise<void> {
  const id = shopId(c, "shop-integrations update ID --set JSON");
  const body = jsonFlag(c.flags.set, "--set");
  if (!body) throw new CliError("shop-integrations update needs --set JSON: the fields to change.", `For example --set '{"shop_name":"My shop","webhook_active":false}'`, 2);
  await api(() => shopClient(c).shopIntegrations.updateShopIntegration({ params: { path: { id } }, body: body as never }), base(c));
  c.out.result({ id, updated: Object.keys(body) }, () => `Updated shop integration ${id}: ${Object.keys(body).join(", ")}.`);
}

export async function shopDelete(c: CommandContext): Promise<void> {
  const id = shopId(c, "shop-integrations delete ID");
  await api(() => shopClient(c).shopIntegrations.deleteShopIntegration({ params: { path: { id } } }), base(c));
  c.out.result({ id, deleted: true }, () => `Disconnected shop integration ${id} (restorable with POST /v1/integrations/{type} within the recovery window).`);
}

export async function shopLogs(c: CommandContext): Promise<void> {
  const pb = shopClient(c);
  const query: Row = {};
  if (typeof c.flags["page-size"] === "string") {
    if (!/^[1-9]\d{0,2}$/.test(c.flags["page-size"]) || Number(c.flags["page-size"]) > 100) throw new CliError("--page-size needs a whole number from 1 to 100.", undefined, 2);
    query.page_size = Number(c.flags["page-size"]);
  }
  if (typeof c.flags.cursor === "string") query.cursor = c.flags.cursor;
  const doc = (c.args[0] === undefined
    ? await api(() => pb.shopIntegrations.listShopIntegrationsLogs({ params: { query: query as never } }), base(c))
    : await api(() => pb.shopIntegrations.listShopIntegrationLogs({ params: { path: { id: shopId(c, "shop-integrations logs [ID]") }, query: query as never } }), base(c))) as unknown as { data: Row[] };
  c.out.result(doc, () => table(doc.data.map((d) => ({ ...d, ...((d.attributes as Row | undefined) ?? {}) })), ["id", "integration", "created_at", "method", "response_code", "url"]));
}

export async function shopList(c: CommandContext): Promise<void> {
  const pb = shopClient(c);
  const doc = (await api(() => pb.shopIntegrations.listShopIntegrations(), base(c))) as unknown as { data: Array<{ id: string; attributes: Row }> };
  c.out.result(doc, () => table(doc.data.map((d) => ({ id: d.id, ...d.attributes })), ["id", "shop_name", "integration_type", "status", "updated_at"]));
}

export async function webhooksList(c: CommandContext): Promise<void> {
  const pb = entityClient(c);
  const page = await api(() => pb.webhooks.listWebhookEndpoints(), base(c));
  c.out.result(page, () => table(page.data as unknown as Row[], ["id", "url", "enabled_events", "status", "created_at"]));
}

export async function webhooksCreate(c: CommandContext): Promise<void> {
  const url = c.flags["endpoint-url"];
  if (typeof url !== "string" || !url) throw new CliError("webhooks create needs --endpoint-url URL.", undefined, 2);
  const events = (typeof c.flags.events === "string" ? c.flags.events : "*").split(",").map((e) => e.trim()).filter(Boolean);
  const pb = entityClient(c);
  const body = { url, events: events as never, ...(typeof c.flags.description === "string" ? { description: c.flags.description } : {}) };
  const created = (await api(() => pb.webhooks.createWebhookEndpoint({ body }), base(c))) as unknown as Row;
  const endpoint = ((created.data as Row | undefined) ?? created) as Row;
  c.out.result(created, () => `Created webhook endpoint ${String(endpoint.id)} → ${url}\n  signing secret: ${String(endpoint.secret)}\n\nThe secret is shown this once.`);
}

export async function webhooksDelete(c: CommandContext): Promise<void> {
  const id = needArg(c.args[0], "the endpoint id", "webhooks delete ENDPOINT_ID");
  const pb = entityClient(c);
  const answer = await api(() => pb.webhooks.deleteWebhookEndpoint({ params: { path: { id } } }), base(c));
  c.out.result(answer ?? {}, () => `Deleted webhook endpoint ${id}.`);
}

export async function deliveries(c: CommandContext): Promise<void> {
  const id = needArg(c.args[0], "the endpoint id", "webhooks deliveries ENDPOINT_ID");
  const pb = entityClient(c);
  const page = await api(() => pb.webhooks.listWebhookEndpointDeliveries({ params: { path: { id }, query: pageQuery(c.flags) } }), base(c));
  c.out.result(page, () => table(page.data as unknown as Row[], ["id", "event_type", "status", "attempts", "last_status", "created_at"]));
}

const show = (row: Row) => Object.entries(row).map(([k, v]) => `  ${k}: ${typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)}`).join("\n");
const unwrap = (answer: unknown) => (((answer as { data?: Row }).data ?? answer) as Row);

export async function catalog(c: CommandContext): Promise<void> {
  const pb = entityClient(c);
  const list = await api(() => pb.integrations.getIntegrationsCatalog(), base(c));
  c.out.result(list, () => table(list.data as unknown as Row[], ["connector_type", "name", "category", "auth_mode", "required_credential_keys"]));
}

export async function webhooksGet(c: CommandContext): Promise<void> {
  const id = needArg(c.args[0], "the endpoint id", "webhooks get ENDPOINT_ID");
  const pb = entityClient(c);
  const row = unwrap(await api(() => pb.webhooks.getWebhookEndpoint({ params: { path: { id } } }), base(c)));
  c.out.result(row, () => `Webhook endpoint ${id}\n${show(row)}`);
}

export async function webhooksUpdate(c: CommandContext): Promise<void> {
  const id = needArg(c.args[0], "the endpoint id", "webhooks update ENDPOINT_ID --status paused");
  const body: Row = {};
  if (typeof c.flags["endpoint-url"] === "string") body.url = c.flags["endpoint-url"];
  if (typeof c.flags.events === "string") body.events = c.flags.events.split(",").map((e) => e.trim()).filter(Boolean);
  if (typeof c.flags.description === "string") body.description = c.flags.description;
  if (typeof c.flags.status === "string") body.status = c.flags.status;
  if (Object.keys(body).length === 0) throw new CliError("Nothing to change.", "Pass --endpoint-url, --events, --description or --status.", 2);
  const pb = entityClient(c);
  const row = unwrap(await api(() => pb.webhooks.updateWebhookEndpoint({ params: { path: { id } }, body: body as never }), base(c)));
  c.out.result(row, () => `Updated webhook endpoint ${id}\n${show(row)}`);
}

export async function webhooksRotate(c: CommandContext): Promise<void> {
  const id = needArg(c.args[0], "the endpoint id", "webhooks rotate-secret ENDPOINT_ID");
  const pb = entityClient(c);
  const row = unwrap(await api(() => pb.webhooks.rotateWebhookEndpointSecret({ params: { path: { id } } }), base(c)));
  c.out.result(row, () => `New signing secret for ${id}: ${String(row.secret)}\n  the old one keeps signing until ${String(row.previous_secret_expires_at)}\n\nThe secret is shown this once.`);
}

export async function webhooksTest(c: CommandContext): Promise<void> {
  const id = needArg(c.args[0], "the endpoint id", "webhooks test ENDPOINT_ID");
  const pb = entityClient(c);
  const answer = (await api(() => pb.webhooks.createWebhookEndpointSendTestEvent({ params: { path: { id } } }), base(c))) as unknown as Row;
  c.out.result(answer, () => `Queued a webhook.test event (${String(answer.event_id)}) to ${id}.`);
}

export async function webhooksRetry(c: CommandContext): Promise<void> {
  const id = needArg(c.args[0], "the endpoint id", "webhooks retry ENDPOINT_ID DELIVERY_ID");
  const delivery = needArg(c.args[1], "the delivery id", "webhooks retry ENDPOINT_ID DELIVERY_ID");
  const pb = entityClient(c);
  const answer = unwrap(await api(() => pb.webhooks.retryWebhookEndpointDelivery({ params: { path: { id, delivery_id: delivery } } }), base(c)));
  c.out.result(answer, () => `Retrying delivery ${delivery}\n${show(answer)}`);
}
