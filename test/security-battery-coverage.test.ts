import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { InjectOptions } from "fastify";
import { isScope, SCOPES, type Scope } from "../src/auth/scopes.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { connectionsSurface } from "./helpers/connections.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { addKey, createTenant } from "./helpers/fixtures.ts";
import { bearerSurface, type SurfaceAuth } from "./helpers/security-battery.ts";
import { basicSurface } from "./helpers/shop-integrations.ts";

/**
 * Every scoped route gets the security battery, provably (issue 14, item 9).
 * The routes come from the served OpenAPI document (every route with an API
 * key security scheme); the scope each declares is read off the route itself:
 * a key with no scopes is refused with the one it lacks. Then:
 * - the route-independent cases (no key, malformed and unknown keys, a
 *   revoked key, a key without the scope) run here for every one of them, so
 *   a new route gets them without anyone writing a line;
 * - a route that names a resource (an id in its path) must also be listed
 *   in RESOURCE_BATTERIES with the test file whose battery creates one and
 *   runs the resource cases (another entity's id → 404; a test key on live
 *   data → 403 where modes apply); the listing is checked against that file.
 */

/** How each API-key security scheme of the document presents a key. */
const SURFACES: Record<string, SurfaceAuth> = { bearerAuth: bearerSurface, apiKeyHeader: connectionsSurface, basicAuth: basicSurface };

/** Routes that name a resource, and the test file whose battery creates one and runs the resource cases on it. */
const RESOURCE_BATTERIES: Record<string, string> = {
  // A create names a type, not a resource: its battery runs without one (no key, bad keys, scope).
  "POST /v1/integrations/{connector_type}": "test/integrations.test.ts",
  "GET /v1/integrations/{connector_type}": "test/integrations.test.ts",
  "PATCH /v1/integrations/{connector_type}": "test/integrations.test.ts",
  "DELETE /v1/integrations/{connector_type}": "test/integrations.test.ts",
  "PUT /v1/integrations/{connector_type}/credentials": "test/credentials.test.ts",
  "DELETE /v1/integrations/{connector_type}/credentials": "test/credentials.test.ts",
  "PUT /v1/integrations/{connector_type}/webhook-secret": "test/credentials.test.ts",
  "DELETE /v1/integrations/{connector_type}/webhook-secret": "test/credentials.test.ts",
  "POST /v1/integrations/{connector_type}/verify": "test/connector-health.test.ts",
  "GET /v1/integrations/{connector_type}/logs": "test/proxy.test.ts",
  "GET /v1/integrations/{connector_type}/proxy/{path}": "test/proxy.test.ts",
  "POST /v1/integrations/{connector_type}/proxy/{path}": "test/proxy.test.ts",
  "PUT /v1/integrations/{connector_type}/proxy/{path}": "test/proxy.test.ts",
  "PATCH /v1/integrations/{connector_type}/proxy/{path}": "test/proxy.test.ts",
  "DELETE /v1/integrations/{connector_type}/proxy/{path}": "test/proxy.test.ts",
  "GET /v1/webhook_endpoints/{id}": "test/webhooks.test.ts",
  "PATCH /v1/webhook_endpoints/{id}": "test/webhooks.test.ts",
  "DELETE /v1/webhook_endpoints/{id}": "test/webhooks.test.ts",
  "POST /v1/webhook_endpoints/{id}/rotate_secret": "test/webhooks.test.ts",
  "POST /v1/webhook_endpoints/{id}/send_test_event": "test/webhooks.test.ts",
  "GET /v1/webhook_endpoints/{id}/deliveries": "test/webhooks.test.ts",
  "POST /v1/webhook_endpoints/{id}/deliveries/{delivery_id}/retry": "test/webhooks.test.ts",
  "POST /connections/{connection_id}/token": "test/connections.test.ts",
  "GET /connections/{connection_id}": "test/connections.test.ts",
  "PATCH /connections/{connection_id}": "test/connections.test.ts",
  "DELETE /connections/{connection_id}": "test/purchases.test.ts",
  "GET /purchases/{purchase_id}": "test/purchases.test.ts",
  "GET /webhooks/{destination_id}": "test/webhook-destinations.test.ts",
  "PATCH /webhooks/{destination_id}": "test/webhook-destinations.test.ts",
  "DELETE /webhooks/{destination_id}": "test/webhook-destinations.test.ts",
  "DELETE /link-tokens/{link_token_id}": "test/link-tokens.test.ts",
  "PATCH /simulated-connections/{connection_id}": "test/connections.test.ts",
  "GET /api/v3/integrations/{id}": "test/shop-integrations-rules.test.ts",
  "PATCH /api/v3/integrations/{id}": "test/shop-integrations-rules.test.ts",
  "DELETE /api/v3/integrations/{id}": "test/shop-integrations-rules.test.ts",
  "GET /api/v3/integrations/{id}/logs": "test/shop-integrations-rules.test.ts",
  "POST /api/v3/integrations/{id}/logs": "test/shop-integrations-rules.test.ts",
};

/**
 * Routes with an API-key scheme that take no scope, on purpose. The OAuth2 token endpoint takes the key as
 * client credentials: any live key may exchange itself for a token, whose use is then checked like the key's.
 */
const UNSCOPED_ON_PURPOSE = new Set(["POST /oauth2/token"]);

interface DocumentedRoute {
  method: string;
  path: string;
  scheme: string;
}

/** A concrete URL for a path pattern: each parameter filled with a well-formed value that names nothing. */
function concrete(path: string): string {
  return path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    if (name === "connector_type") return "stripe";
    if (name === "path") return "v1/balance";
    if (path.startsWith("/api/v3/")) return "987654";
    if (name === "connection_id" || name === "purchase_id") return "01JBATTERYCOVERAGE000000000";
    return "0190d6a6-0000-7000-8000-00000000b477";
  });
}

/** Whether `text` (a test file) calls the battery with a URL of this route's shape. */
function batteryNamesRoute(text: string, method: string, path: string): boolean {
  if (!text.includes("runSecurityBattery")) return false;
  // Static segments as written; each parameter may be written as ${…}, {name} or a literal value.
  const shape = path
    .split(/\{\w+\}/)
    .map((s) => s.replace(/[.*+?^$()|[\]\\]/g, "\\$&"))
    .join("(?:\\$\\{[^}]+\\}|\\{\\w+\\}|[\\w.*…-]+)");
  const url = new RegExp(`${shape}(?:\\/[\\w/.-]*)?[\`"'?]`);
  return url.test(text) && new RegExp(`["']${method}["']`).test(text);
}

for (const kind of DB_KINDS) {
  describe(`[${kind}] every scoped route gets the security battery`, () => {
    let t: TestApp;
    const scoped: Array<DocumentedRoute & { scope: Scope }> = [];
    const unscoped: DocumentedRoute[] = [];

    before(async () => {
      t = await startTestApp(kind);
      const doc = (await t.request({ method: "GET", url: "/openapi.json" })).json() as {
        paths: Record<string, Record<string, { security?: Array<Record<string, string[]>> }>>;
      };
      const owner = await createTenant(t);
      for (const [path, ops] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          const scheme = (op.security ?? []).flatMap((s) => Object.keys(s)).find((s) => s in SURFACES);
          if (!scheme) continue;
          // A key needs one scope at least: two keys with disjoint scopes between them are refused every scope.
          // Fresh ones per route, so no key meets its rate limit on the way (the test clock stands still).
          const narrow = [await addKey(t, owner.entityId, { scopes: [SCOPES[0]] }), await addKey(t, owner.entityId, { scopes: SCOPES.slice(1) })];
          let required: string | undefined;
          for (const key of narrow) {
            const res = await t.request({
              method: method.toUpperCase() as InjectOptions["method"],
              url: concrete(path),
              headers: SURFACES[scheme]!.headers(key),
              ...(["post", "put", "patch"].includes(method) ? { payload: {} } : {}),
            });
            required = res.statusCode === 403 ? /lacks the \\?"([a-z_:]+)\\?" scope/.exec(res.body)?.[1] : undefined;
            if (required) break;
          }
          if (required && isScope(required)) scoped.push({ method: method.toUpperCase(), path, scheme, scope: required });
          else unscoped.push({ method: method.toUpperCase(), path, scheme });
        }
      }
    });

    after(async () => {
      await t?.close();
    });

    it("finds the routes (the walk is not blind)", () => {
      assert.ok(scoped.length >= 40, `found ${scoped.length} scoped routes`);
      for (const scheme of Object.keys(SURFACES)) assert.ok(scoped.some((r) => r.scheme === scheme), `a ${scheme} route`);
    });

    it("every route with an API-key security scheme declares a scope (a key without it is refused)", () => {
      assert.deepEqual(unscoped.map((r) => `${r.method} ${r.path}`).filter((r) => !UNSCOPED_ON_PURPOSE.has(r)), []);
    });

    it("every scoped route that names a resource has its resource battery, in the file listed", () => {
      const missing: string[] = [];
      for (const r of scoped) {
        const route = `${r.method} ${r.path}`;
        const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        if (params.length === 0) continue;
        const file = RESOURCE_BATTERIES[route];
        if (!file) {
          missing.push(`${route}: not listed in RESOURCE_BATTERIES`);
          continue;
        }
        const text = readFileSync(join(import.meta.dirname, "..", file), "utf8");
        if (!batteryNamesRoute(text, r.method, r.path)) missing.push(`${route}: ${file} runs no battery on it`);
      }
      assert.deepEqual(missing, []);
    });

    it("RESOURCE_BATTERIES lists only routes that exist, in test files that exist", () => {
      const known = new Set(scoped.map((r) => `${r.method} ${r.path}`));
      const tests = new Set(readdirSync(join(import.meta.dirname)).map((f) => `test/${f}`));
      const stale = Object.entries(RESOURCE_BATTERIES).filter(([route, file]) => !known.has(route) || !tests.has(file));
      assert.deepEqual(stale, []);
    });

    // The route-independent cases of runSecurityBattery, for every scoped route found (the list is known only
    // once the app is up, so each case walks it).
    describe("the route-independent cases, on every scoped route", () => {
      const cases = ["no key → 401", "malformed and unknown keys → 401", "a revoked key → 401", "a key without the scope → 403"] as const;
      for (const c of cases) {
        it(c, async () => {
          assert.ok(scoped.length > 0);
          for (const r of scoped) {
            const surface = SURFACES[r.scheme]!;
            const owner = await createTenant(t);
            const send = (tenant: Parameters<SurfaceAuth["headers"]>[0], raw?: string) =>
              t.request({
                method: r.method as InjectOptions["method"],
                url: concrete(r.path),
                headers: surface.headers(tenant, raw),
                ...(["POST", "PUT", "PATCH"].includes(r.method) ? { payload: {} } : {}),
              });
            const where = `${r.method} ${r.path} (${r.scope})`;
            if (c === "no key → 401") {
              const res = await send(null);
              assert.equal(res.statusCode, 401, `${where}: ${res.body}`);
              surface.assertUnauthenticated(res.json(), "missing");
            } else if (c === "malformed and unknown keys → 401") {
              for (const raw of ["nonsense", "ark_live_ent_short", `ark_live_ent_${"A".repeat(40)}`]) {
                const res = await send(null, raw);
                assert.equal(res.statusCode, 401, `${where} ${raw}: ${res.body}`);
                surface.assertUnauthenticated(res.json(), "invalid");
              }
            } else if (c === "a revoked key → 401") {
              assert.equal((await t.admin("DELETE", `/admin/v1/api-keys/${owner.keyId}`)).statusCode, 200);
              const res = await send(owner);
              assert.equal(res.statusCode, 401, `${where}: ${res.body}`);
              surface.assertUnauthenticated(res.json(), "invalid");
            } else {
              const weak = await addKey(t, owner.entityId, { scopes: SCOPES.filter((s) => s !== r.scope) });
              const res = await send(weak);
              assert.equal(res.statusCode, 403, `${where}: ${res.body}`);
              // The exact scope the route declares, in every surface's shape.
              if (r.scheme === "apiKeyHeader") assert.match((res.json() as { detail: string }).detail, new RegExp(`lacks the "${r.scope}" scope`), where);
              else surface.assertForbidden(res.json(), "insufficient_scope");
              if (r.scheme === "bearerAuth") assert.equal(res.json().required, r.scope, where);
            }
          }
        });
      }
    });
  });
}
