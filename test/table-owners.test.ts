import { strict as assert } from "node:assert";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";

/**
 * One owner per table (issue 14): the only code with SQL that names a table
 * is its owner. OWNERS lists each table's owner first; a file after it is
 * allowed for one statement that joins the owner's table for a reason (one
 * round trip), written beside it. A new table needs an owner here; a new
 * file naming an existing table fails.
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
  request_log_batches: ["src/services/request-logs.ts"],
  integration_logs: ["src/services/integration-logs.ts"],
  provider_webhook_events: ["src/services/inbound-webhooks.ts"],
  connectors: [
    "src/services/connector-store.ts",
    // A grant's refresh read and the due list join the grant's connector: one round trip each.
    "src/services/shopify-grant-store.ts",
    // (The outbox's fan-out — the event and its deliveries, shop integrations among the targets — is one SQL
    // function, emit_event() of migration 0033, called by outbox.ts: its plan is prepared once per connection.)
  ],
  shopify_grants: ["src/services/shopify-grant-store.ts"],
  vault_secrets: [
    "src/vault/vault.ts",
    // The proxy reads a connector with its sealed credentials in one query (the hot path's one round trip).
    "src/services/connector-store.ts",
  ],
  entities: ["src/services/entities.ts"],
  connections: [
    "src/services/connection-store.ts",
    // The purchase purge is one statement: purchases of connections disconnected past the window.
    "src/services/purchases.ts",
  ],
  purchases: ["src/services/purchases.ts"],
  api_keys: [
    "src/services/api-keys.ts",
    // Admission is one round trip: admit_api_key (its PL/pgSQL) joined to the key row.
    "src/services/admission.ts",
  ],
  jobs: ["src/queue/queue.ts"],
  idempotency_keys: ["src/idempotency/store.ts"],
  // The outbox: events are written here, with their deliveries, in the writer's transaction.
  events: [
    "src/services/outbox.ts",
    // A delivery is read with its event in one query.
    "src/services/webhook-deliveries.ts",
  ],
  webhook_deliveries: [
    "src/services/webhook-deliveries.ts",
    // The outbox creates each event's deliveries with it (the fan-out is one statement).
    "src/services/outbox.ts",
  ],
  webhook_endpoints: [
    "src/services/webhook-endpoints.ts",
    // (emit_event(), migration 0033, picks the subscribed endpoints.)
  ],
  webhook_destinations: [
    "src/services/webhook-destinations.ts",
    // (emit_event(), migration 0033, picks the destinations that enabled the type.)
  ],
  oauth2_access_tokens: [
    "src/services/oauth2-tokens.ts",
    // Admission reads a bearer token's key in its one statement, as it reads api_keys.
    "src/services/admission.ts",
  ],
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

  it("every table has an owner", () => {
    const unowned = tables.filter((t) => !(t in OWNERS));
    assert.deepEqual(unowned, [], "give each new table one owner module in OWNERS");
  });

  for (const t of tables) {
    it(`${t} is named in SQL only by its owner`, () => {
      const allowed = new Set(OWNERS[t] ?? []);
      const outside = [...found.get(t)!].filter((f) => !allowed.has(f)).sort();
      assert.deepEqual(outside, [], `${t} is named in SQL outside its owner: go through ${[...allowed].join(", ") || "its owner"}`);
    });
  }

  it("every file listed for a table still names it (no stale allowance)", () => {
    // rate_limit_windows: its SQL is the PL/pgSQL of its migrations, which the scan skips.
    const stale = Object.entries(OWNERS)
      .filter(([t]) => t !== "rate_limit_windows")
      .flatMap(([t, files]) => files.filter((f) => !found.get(t)?.has(f)).map((f) => `${t}: ${f}`));
    assert.deepEqual(stale, []);
  });

  it("finds the SQL it guards (the scan is not blind)", () => {
    assert.ok(found.get("connectors")!.size > 0 && found.get("audit_events")!.size > 0);
  });
});
