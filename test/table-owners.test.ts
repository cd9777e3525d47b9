import { strict as assert } from "node:assert";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";

/**
 * One owner per table (issue 14): the only code with SQL that names a table
 * is its owner. OWNERS lists each table's owner; KNOWN_SPREAD lists, for a
 * table not yet moved into one store, exactly the files that still name it,
 * so the spread cannot grow while it is being gathered. A new table needs an
 * owner here; a new file naming an existing table fails.
 */
const OWNERS: Record<string, readonly string[]> = {
  schema_migrations: ["src/db/migrate.ts"],
  audit_events: ["src/services/audit.ts"],
  // Its SQL is the PL/pgSQL function of its migrations; postgres-store.ts calls that function.
  rate_limit_windows: ["src/ratelimit/postgres-store.ts"],
  shopify_oauth_states: ["src/services/shopify-oauth.ts"],
  link_tokens: ["src/services/link-tokens.ts"],
  provider_tokens: ["src/services/minted-tokens.ts"],
  provider_calls: ["src/services/provider-calls.ts"],
  request_logs: ["src/services/request-logs.ts"],
  integration_logs: ["src/services/integration-logs.ts"],
  provider_webhook_events: ["src/services/inbound-webhooks.ts"],
};

/** Tables whose SQL is still spread over several files (to be gathered into one store each). */
const KNOWN_SPREAD: Record<string, readonly string[]> = {
  entities: ["src/services/entities.ts", "src/services/webhook-destinations.ts", "src/services/webhook-endpoints.ts"],
  api_keys: ["src/services/admission.ts", "src/services/api-keys.ts"],
  connectors: ["src/services/connector-health.ts", "src/services/connector-store.ts", "src/services/connectors.ts", "src/services/credentials.ts", "src/services/inbound-webhooks.ts", "src/services/outbox.ts", "src/services/shop-integrations.ts", "src/services/shopify-grants.ts", "src/services/shopify-oauth.ts", "src/services/webhook-deliveries.ts"],
  events: ["src/services/outbox.ts", "src/services/webhook-deliveries.ts", "src/services/webhook-endpoints.ts"],
  // The proxy reads a connector with its sealed credentials in one query (credentials.ts): to move into the vault's store.
  vault_secrets: ["src/services/credentials.ts", "src/vault/vault.ts"],
  connections: ["src/services/connection-linking.ts", "src/services/connection-status.ts", "src/services/connections.ts", "src/services/durable-linking.ts", "src/services/purchase-sync.ts", "src/services/purchases.ts"],
  purchases: ["src/services/purchase-sync.ts", "src/services/purchases.ts"],
  jobs: ["src/queue/job-types.ts", "src/queue/queue.ts"],
  idempotency_keys: ["src/idempotency/purge.ts", "src/idempotency/store.ts"],
  shopify_grants: ["src/services/connector-health.ts", "src/services/connectors.ts", "src/services/shopify-grants.ts", "src/services/shopify-oauth.ts"],
  webhook_endpoints: ["src/services/outbox.ts", "src/services/webhook-deliveries.ts", "src/services/webhook-endpoints.ts"],
  webhook_deliveries: ["src/services/outbox.ts", "src/services/webhook-deliveries.ts", "src/services/webhook-endpoints.ts"],
  webhook_destinations: ["src/services/outbox.ts", "src/services/webhook-deliveries.ts", "src/services/webhook-destinations.ts"],
};

const ROOT = join(import.meta.dirname, "..");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    if (d.isDirectory()) return d.name === "migrations" ? [] : sourceFiles(path);
    return d.name.endsWith(".ts") ? [path] : [];
  });
}

function tablesOfSchema(): string[] {
  const schema = readFileSync(join(ROOT, "src/db/schema.ts"), "utf8");
  const db = /export interface DB \{([\s\S]*?)\n\}/.exec(schema)![1]!;
  return [...db.matchAll(/^\s+(\w+):/gm)].map((m) => m[1]!);
}

/** Where each table is named in SQL: Kysely's builders, and raw SQL (from, into, update, join, delete from). */
function namers(tables: readonly string[]): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>(tables.map((t) => [t, new Set<string>()]));
  for (const file of sourceFiles(join(ROOT, "src"))) {
    const text = readFileSync(file, "utf8");
    const rel = relative(ROOT, file).split("\\").join("/");
    for (const t of tables) {
      const builder = new RegExp(`(selectFrom|insertInto|updateTable|deleteFrom|innerJoin|leftJoin|with)\\(\\s*["'\`]${t}(\\s+as\\s+\\w+)?["'\`]`);
      const raw = new RegExp(`\\b(from|into|update|join)\\s+${t}\\b`, "i");
      const inSql = [...text.matchAll(/sql(<[^>]*>)?`([^`]*)`/g)].some((m) => raw.test(m[2]!));
      if (builder.test(text) || inSql) found.get(t)!.add(rel);
    }
  }
  return found;
}

describe("one owner per table", () => {
  const tables = tablesOfSchema();
  const found = namers(tables);

  it("every table has an owner or is a listed known spread", () => {
    const unowned = tables.filter((t) => !(t in OWNERS) && !(t in KNOWN_SPREAD));
    assert.deepEqual(unowned, [], "give each new table one owner module in OWNERS");
  });

  for (const t of tables) {
    it(`${t} is named in SQL only by ${t in OWNERS ? "its owner" : "the files listed as its known spread"}`, () => {
      const allowed = new Set(OWNERS[t] ?? KNOWN_SPREAD[t] ?? []);
      const outside = [...found.get(t)!].filter((f) => !allowed.has(f)).sort();
      assert.deepEqual(outside, [], `${t} is named in SQL outside its owner: go through ${[...allowed].join(", ") || "its owner"}`);
    });
  }

  it("finds the SQL it guards (the scan is not blind)", () => {
    assert.ok(found.get("connectors")!.size > 0 && found.get("audit_events")!.size > 0);
  });
});
