import assert from "node:assert/strict";
import { it } from "node:test";
import type { InjectOptions } from "fastify";
import type { Scope } from "../../src/auth/scopes.ts";
import { SCOPES } from "../../src/auth/scopes.ts";
import type { TestApp } from "./app.ts";
import { addKey, createTenant, type Tenant } from "./fixtures.ts";

/** How a surface carries an API key; each surface supplies its own. */
export interface SurfaceAuth {
  /** Headers that present this key (null: present nothing); `ctx` is what the route's setup made (e.g. a connection token). */
  headers(tenant: Tenant | null, rawKey?: string, ctx?: BatteryContext): Record<string, string>;
  /** Checks a 401 body in the surface's shape. */
  assertUnauthenticated(body: unknown, reason: "missing" | "invalid"): void;
  /** Checks a 403 body in the surface's shape. */
  assertForbidden(body: unknown, code: string): void;
  /** Checks a 404 body in the surface's shape. */
  assertNotFound(body: unknown): void;
}

export interface BatteryRoute {
  method: InjectOptions["method"];
  /** The route, given the tenant whose resource it names. */
  url: (ctx: BatteryContext) => string;
  payload?: unknown;
  scope: Scope;
  /** Creates the resource the route acts on (as `owner`), if it names one. */
  setup?: (t: TestApp, owner: Tenant) => Promise<BatteryContext>;
  /** Creates a live-mode resource, for the "test key on live data" case. */
  setupLive?: (t: TestApp, owner: Tenant) => Promise<BatteryContext>;
  surface: SurfaceAuth;
}

export type BatteryContext = Record<string, string>;

/**
 * The same security cases for every route: no key, bad key, revoked key,
 * wrong scope, another entity's resource, a test key on live data. A new
 * route cannot forget them.
 */
export function runSecurityBattery(name: string, getApp: () => TestApp, route: BatteryRoute): void {
  const send = async (tenant: Tenant | null, ctx: BatteryContext, rawKey?: string) =>
    getApp().request({ method: route.method, url: route.url(ctx), payload: route.payload as InjectOptions["payload"], headers: route.surface.headers(tenant, rawKey, ctx) });

  const ownerAndCtx = async () => {
    const t = getApp();
    const owner = await createTenant(t);
    const ctx = route.setup ? await route.setup(t, owner) : {};
    return { t, owner, ctx };
  };

  it(`${name}: no key → 401`, async () => {
    const { ctx } = await ownerAndCtx();
    const res = await send(null, ctx);
    assert.equal(res.statusCode, 401, res.body);
    route.surface.assertUnauthenticated(res.json(), "missing");
  });

  it(`${name}: malformed and unknown keys → 401`, async () => {
    const { ctx } = await ownerAndCtx();
    for (const raw of ["nonsense", "ark_live_ent_short", `ark_live_ent_${"A".repeat(40)}`]) {
      const res = await send(null, ctx, raw);
      assert.equal(res.statusCode, 401, `${raw}: ${res.body}`);
      route.surface.assertUnauthenticated(res.json(), "invalid");
    }
  });

  it(`${name}: a revoked key → 401 at once`, async () => {
    const { t, owner, ctx } = await ownerAndCtx();
    const revoke = await t.admin("DELETE", `/admin/v1/api-keys/${owner.keyId}`);
    assert.equal(revoke.statusCode, 200, revoke.body);
    const res = await send(owner, ctx);
    assert.equal(res.statusCode, 401, res.body);
    route.surface.assertUnauthenticated(res.json(), "invalid");
  });

  it(`${name}: a key without ${route.scope} → 403`, async () => {
    const { t, owner, ctx } = await ownerAndCtx();
    const weak = await addKey(t, owner.entityId, { scopes: SCOPES.filter((s) => s !== route.scope) });
    const res = await send(weak, ctx);
    assert.equal(res.statusCode, 403, res.body);
    route.surface.assertForbidden(res.json(), "insufficient_scope");
  });

  if (route.setup) {
    it(`${name}: another entity's resource → 404, never its data`, async () => {
      const { t, ctx } = await ownerAndCtx();
      const stranger = await createTenant(t);
      const res = await send(stranger, ctx);
      assert.equal(res.statusCode, 404, res.body);
      route.surface.assertNotFound(res.json());
      for (const value of Object.values(ctx)) {
        if (value.length > 8) assert.ok(!res.body.includes(`"${value}"`) || route.url(ctx).includes(value), "404 body leaks the resource");
      }
    });
  }

  if (route.setupLive) {
    it(`${name}: a test key on live data → 403`, async () => {
      const t = getApp();
      const owner = await createTenant(t);
      const ctx = await route.setupLive!(t, owner);
      const testKey = await addKey(t, owner.entityId, { mode: "test" });
      const res = await send(testKey, ctx);
      assert.equal(res.statusCode, 403, res.body);
      route.surface.assertForbidden(res.json(), "live_mode_forbidden");
    });
  }
}

/** The /v1 surface: `Authorization: Bearer ark_…`, flat error body. */
export const bearerSurface: SurfaceAuth = {
  headers: (tenant, rawKey): Record<string, string> => {
    const key = rawKey ?? tenant?.key;
    return key ? { authorization: `Bearer ${key}` } : {};
  },
  assertUnauthenticated: (body, reason) => {
    const b = body as Record<string, unknown>;
    assert.equal(b.code, reason === "missing" ? "missing_api_key" : "invalid_api_key");
    assert.equal(b.type, "permission_error");
    assert.equal(typeof b.request_id, "string");
  },
  assertForbidden: (body, code) => {
    const b = body as Record<string, unknown>;
    assert.equal(b.code, code);
    assert.equal(b.type, "permission_error");
    if (code === "insufficient_scope") assert.equal(typeof b.required, "string");
  },
  assertNotFound: (body) => {
    const b = body as Record<string, unknown>;
    assert.equal(typeof b.code, "string");
    assert.equal(typeof b.request_id, "string");
  },
};
