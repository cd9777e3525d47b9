import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { lintOpenApi } from "../scripts/lint-openapi.ts";
import { operationIdOf } from "../src/surfaces/errors-by-path.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";

type Operation = { operationId?: string; summary?: string; tags?: string[]; security?: unknown[]; responses: Record<string, { description?: string; content?: unknown; $ref?: string }> };

describe("the OpenAPI document is one that tools love (issue 20)", () => {
  let t: TestApp;
  let doc: { servers?: Array<{ url: string }>; tags?: Array<{ name: string; description?: string }>; paths: Record<string, Record<string, Operation>> };
  const operations = () => Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })));
  before(async () => {
    t = await startTestApp("pglite", { env: { PATCHBAY_PUBLIC_URL: "https://patchbay.acme-corp.net" } });
    doc = (await t.request({ method: "GET", url: "/openapi.json" })).json();
  });
  after(async () => t.close());

  it("Redocly's recommended rules (the engine of `npx @redocly/cli lint`) report 0 errors and 0 warnings", async () => {
    const problems = await lintOpenApi(doc);
    assert.deepEqual(problems.map((p) => `${p.severity} ${p.rule} ${p.where}: ${p.message}`), []);
  });

  it("every operation: a unique operationId, a summary, a described tag, every status described with a schema", () => {
    const ids = operations().map((o) => o.op.operationId);
    assert.ok(ids.every((id) => typeof id === "string" && /^[a-z][A-Za-z0-9]+$/.test(id)), ids.join(", "));
    assert.equal(new Set(ids).size, ids.length, "unique");
    const described = new Map((doc.tags ?? []).map((tag) => [tag.name, tag.description]));
    for (const { path, method, op } of operations()) {
      const where = `${method.toUpperCase()} ${path}`;
      assert.ok(op.summary, `${where} has no summary`);
      assert.ok(op.tags?.length, `${where} has no tag`);
      for (const tag of op.tags!) assert.ok(described.get(tag), `${where}: tag "${tag}" has no description`);
      for (const [status, r] of Object.entries(op.responses)) {
        assert.ok(r.description && r.description !== "Default Response", `${where} ${status} is not described`);
        if (status !== "204") assert.ok(r.content || r.$ref, `${where} ${status} has no schema`);
      }
    }
  });

  it("operationIds are stable: named after method and route pattern", () => {
    const byRoute = new Map(operations().map((o) => [`${o.method.toUpperCase()} ${o.path}`, o.op.operationId]));
    assert.equal(byRoute.get("GET /v1/integrations"), "listIntegrations");
    assert.equal(byRoute.get("GET /v1/integrations/{connector_type}"), "getIntegration");
    assert.equal(byRoute.get("POST /v1/integrations/{connector_type}/verify"), "verifyIntegration");
    assert.equal(byRoute.get("POST /v1/webhook_endpoints"), "createWebhookEndpoint");
    assert.equal(byRoute.get("POST /v1/webhook_endpoints/{id}/rotate_secret"), "rotateWebhookEndpointSecret");
    assert.equal(byRoute.get("GET /api/v3/integrations/{id}"), "getShopIntegration");
    assert.equal(byRoute.get("POST /admin/v1/entities/{entity_id}/api-keys"), "createAdminEntityApiKey");
    assert.equal(operationIdOf("POST", "/v1/things/:id/pause"), "pauseThing");
  });

  it("servers come from PATCHBAY_PUBLIC_URL; public routes declare security: []; the probes and /metrics are documented", () => {
    assert.deepEqual(doc.servers?.map((s) => s.url), ["https://patchbay.acme-corp.net"]);
    for (const path of ["/livez", "/readyz", "/healthz", "/link", "/v1/integrations/shopify/oauth/callback"]) {
      for (const op of Object.values(doc.paths[path] ?? {})) assert.deepEqual(op.security, [], `${path} is public`);
    }
    assert.ok(doc.paths["/metrics"]?.get, "/metrics documented");
    assert.deepEqual(doc.paths["/metrics"]!.get!.security, [{ metricsToken: [] }]);
    assert.ok(doc.paths["/readyz"]?.get?.responses["503"], "/readyz documents its 503");
  });
});
