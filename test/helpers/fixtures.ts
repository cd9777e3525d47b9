import assert from "node:assert/strict";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import { SCOPES } from "../../src/auth/scopes.ts";
import type { TestApp } from "./app.ts";

export interface Tenant {
  entityId: string;
  keyId: string;
  key: string;
  publicKey: string;
  mode: "live" | "test";
}

let counter = 0;

/** A new entity with one API key, created through the admin API. */
export async function createTenant(
  t: TestApp,
  opts: { mode?: "live" | "test"; scopes?: readonly string[]; name?: string } = {},
): Promise<Tenant> {
  const entity = await t.admin("POST", "/admin/v1/entities", { name: opts.name ?? `Entity ${++counter}` });
  assert.equal(entity.statusCode, 201, entity.body);
  const entityId = entity.json().id as string;
  return addKey(t, entityId, opts);
}

export async function addKey(t: TestApp, entityId: string, opts: { mode?: "live" | "test"; scopes?: readonly string[] } = {}): Promise<Tenant> {
  const mode = opts.mode ?? "live";
  const res = await t.admin("POST", `/admin/v1/entities/${entityId}/api-keys`, { name: "test key", mode, scopes: opts.scopes ?? SCOPES });
  assert.equal(res.statusCode, 201, res.body);
  const body = res.json();
  return { entityId, keyId: body.id, key: body.key, publicKey: body.public_key, mode };
}

/** A request as an API key on the bearer-authenticated surfaces (/v1). */
export function asKey(t: TestApp, tenant: Pick<Tenant, "key">) {
  return (method: InjectOptions["method"], url: string, payload?: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
    t.request({
      method,
      url,
      payload: payload as InjectOptions["payload"],
      headers: { authorization: `Bearer ${tenant.key}`, ...headers },
    });
}

/** The seed's connector row fields (000/001/002), all of which every row response carries. */
export const SEED_ROW_FIELDS = [
  "id", "entity_id", "connector_type", "display_name", "mode", "is_active", "config",
  "has_webhook_secret", "has_credentials_secret_arn", "last_sync_at", "sync_status", "sync_error",
  "ship_from_name", "ship_from_address1", "ship_from_city", "ship_from_state", "ship_from_zip",
  "seller_id", "bank_account_id", "created_at", "updated_at",
] as const;

export function assertSeedRow(row: Record<string, unknown>): void {
  for (const f of SEED_ROW_FIELDS) assert.ok(f in row, `row lacks seed field ${f}`);
  assert.ok(Array.isArray(row.credentials_masked), "row lacks credentials_masked");
  for (const f of ["created_at", "updated_at"]) assert.match(String(row[f]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
}

export const SHIP_FROM = {
  ship_from_name: "Acme Warehouse",
  ship_from_address1: "1 Dock Street",
  ship_from_city: "Springfield",
  ship_from_state: "IL",
  ship_from_zip: "62701",
};
