import assert from "node:assert/strict";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import type { TestApp } from "./app.ts";
import type { Tenant } from "./fixtures.ts";
import type { SurfaceAuth } from "./security-battery.ts";

export const WALMART = "01J7SC0NN73R6F5VVSP3ZKPDA3";
export const TARGET = "01J7SC0PMFZ76RF2QPTKT0PV4E";
export const ULID_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/;
export const CONNECTION_FIELDS = ["connection_id", "customer_id", "retailer_id", "status", "email", "mobile"];

/** A request on the connections surface: `x-api-key`, plus a connection token when given. */
export function asConnectionsKey(t: TestApp, tenant: Pick<Tenant, "key">) {
  return (method: InjectOptions["method"], url: string, payload?: unknown, opts: { token?: string; headers?: Record<string, string> } = {}): Promise<LightMyRequestResponse> =>
    t.request({
      method,
      url,
      payload: payload as InjectOptions["payload"],
      headers: { "x-api-key": tenant.key, ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...opts.headers },
    });
}

export async function createConnection(t: TestApp, tenant: Tenant, body: Record<string, unknown> = {}): Promise<Record<string, unknown> & { connection_id: string }> {
  const res = await asConnectionsKey(t, tenant)("POST", "/connections", { customer_id: "cust-1", retailer_id: WALMART, ...body });
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

export async function mintToken(t: TestApp, tenant: Tenant, connectionId: string, scope: "link" | "access"): Promise<string> {
  const res = await asConnectionsKey(t, tenant)("POST", `/connections/${connectionId}/token`, { scope });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().connection_token as string;
}

/** Exactly the seed's six fields, all present, nothing else. */
export function assertConnectionShape(body: Record<string, unknown>): void {
  assert.deepEqual(Object.keys(body).sort(), [...CONNECTION_FIELDS].sort());
  assert.match(String(body.connection_id), ULID_RE);
  assert.match(String(body.retailer_id), ULID_RE);
  assert.ok(["active", "initialized", "unauthenticated", "disconnected"].includes(String(body.status)));
}

export function assertDetailString(body: unknown): string {
  const b = body as Record<string, unknown>;
  assert.deepEqual(Object.keys(b), ["detail"], JSON.stringify(b));
  assert.equal(typeof b.detail, "string");
  return b.detail as string;
}

/** The connections surface: `x-api-key` (+ the connection token the route's setup made), FastAPI-style errors. */
export const connectionsSurface: SurfaceAuth = {
  headers: (tenant, rawKey, ctx) => {
    const key = rawKey ?? tenant?.key;
    return { ...(key ? { "x-api-key": key } : {}), ...(ctx?.token ? { authorization: `Bearer ${ctx.token}` } : {}) };
  },
  assertUnauthenticated: (body, reason) => {
    const detail = assertDetailString(body);
    assert.match(detail, reason === "missing" ? /No API key/ : /not hold a valid API key/);
  },
  assertForbidden: (body, code) => {
    const detail = assertDetailString(body);
    if (code === "insufficient_scope") assert.match(detail, /lacks the "connections:(read|write)" scope/);
  },
  assertNotFound: (body) => {
    assert.match(assertDetailString(body), /No connection with id/);
  },
};
