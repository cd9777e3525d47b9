import assert from "node:assert/strict";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import type { NewConnector } from "../../src/db/schema.ts";
import { uuidv7 } from "../../src/kernel/ids.ts";
import type { TestApp } from "./app.ts";
import { asKey, type Tenant } from "./fixtures.ts";
import type { SurfaceAuth } from "./security-battery.ts";

/** `Authorization: Basic base64(public_key:key)`, as /api/v3 takes it. */
export function basicHeader(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

/** A request as an API key on /api/v3 (HTTP Basic). */
export function asBasic(t: TestApp, tenant: Pick<Tenant, "key" | "publicKey">) {
  return (method: InjectOptions["method"], url: string, payload?: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
    t.request({
      method,
      url,
      payload: payload as InjectOptions["payload"],
      headers: { authorization: basicHeader(tenant.publicKey, tenant.key), ...headers },
    });
}

interface JsonApiDocument {
  errors: { id?: string; links?: { about: string }; status: string; code: string; title: string; detail: string; source?: Record<string, string>; meta?: Record<string, unknown> }[];
}

/**
 * The error document with each error's `id` and `links` taken off, after
 * checking them: the id is the answer's x-request-id (suffixed -1, -2, … when
 * there are several errors), links.about a page of the Sendcloud reference.
 */
export function bareErrors(res: { json(): unknown; headers: Record<string, unknown> }): JsonApiDocument {
  const doc = res.json() as JsonApiDocument;
  const requestId = String(res.headers["x-request-id"]);
  return {
    errors: doc.errors.map(({ id, links, ...rest }, i) => {
      assert.equal(id, doc.errors.length > 1 ? `${requestId}-${i + 1}` : requestId, "error id");
      if (links !== undefined) assert.match(links.about, /^https:\/\/sendcloud\.dev\/api\/v3\/integrations\//, "links.about");
      return rest;
    }),
  };
}

/** Checks a JSON:API error document and returns its errors. */
export function jsonApiErrors(body: unknown, status: number): JsonApiDocument["errors"] {
  const doc = body as JsonApiDocument;
  assert.ok(Array.isArray(doc.errors) && doc.errors.length > 0, `not a JSON:API error document: ${JSON.stringify(body)}`);
  for (const e of doc.errors) {
    assert.equal(e.status, String(status));
    for (const f of ["code", "title", "detail"] as const) assert.equal(typeof e[f], "string", `error lacks ${f}`);
  }
  return doc.errors;
}

/** The /api/v3 surface: HTTP Basic (public_key:key), JSON:API error body. */
export const basicSurface: SurfaceAuth = {
  headers: (tenant, rawKey): Record<string, string> => {
    if (rawKey !== undefined) return { authorization: basicHeader(tenant?.publicKey ?? "pk_live_000000000000000000000000", rawKey) };
    return tenant ? { authorization: basicHeader(tenant.publicKey, tenant.key) } : {};
  },
  assertUnauthenticated: (body, reason) => {
    const [e] = jsonApiErrors(body, 401);
    assert.equal(e!.code, "authentication_failed");
    assert.equal(e!.detail, reason === "missing" ? "Authentication credentials were not provided." : "The username or password provided is incorrect. Please make a request with the valid credentials.");
  },
  assertForbidden: (body, code) => {
    const [e] = jsonApiErrors(body, 403);
    assert.equal(e!.code, code);
  },
  assertNotFound: (body) => {
    const [e] = jsonApiErrors(body, 404);
    assert.equal(e!.code, "not_found");
  },
};

/** Connects a shop-type connector on /v1 and returns its /api/v3 integer id. */
export async function connectShop(t: TestApp, tenant: Tenant, type: "amazon" | "ebay", body: Record<string, unknown> = {}): Promise<number> {
  const res = await asKey(t, tenant)("POST", `/v1/integrations/${type}`, { seller_id: `SELLER${type.toUpperCase()}`, ...body });
  assert.equal(res.statusCode, 201, res.body);
  return shopIntegrationId(t, res.json().id);
}

/**
 * A Shopify connector straight into the database: /v1 connects Shopify through
 * OAuth, which this server does not offer yet (POST answers 501).
 */
export async function insertShopify(t: TestApp, tenant: Tenant, fields: Partial<NewConnector> = {}): Promise<number> {
  const now = t.clock.now();
  const row = await t.database.db
    .insertInto("connectors")
    .values({
      id: uuidv7(now),
      entity_id: tenant.entityId,
      connector_type: "shopify",
      display_name: "Shopify",
      mode: "sandbox",
      is_active: true,
      config: "{}",
      created_at: now,
      updated_at: now,
      ...fields,
    })
    .returning("shop_integration_id")
    .executeTakeFirstOrThrow();
  return row.shop_integration_id;
}

export async function shopIntegrationId(t: TestApp, connectorId: string): Promise<number> {
  const row = await t.database.db.selectFrom("connectors").select("shop_integration_id").where("id", "=", connectorId).executeTakeFirstOrThrow();
  return row.shop_integration_id;
}
