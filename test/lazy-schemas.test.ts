import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ADMIN_TOKEN, startTestApp, type TestApp } from "./helpers/app.ts";

// Validators and serializers compile on a route's first use (start-up time, BENCHMARKS.md), so a
// schema Ajv or fast-json-stringify refuses would otherwise surface only on the first request
// that reaches it. Here every one of them is compiled up front.
describe("every route's validators and response serializers compile (they are built on first use)", () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp("pglite");
  });
  after(async () => t.close());

  it("none is compiled at start-up; compiling them all succeeds", () => {
    const compiled = t.app.compilePendingSchemas();
    // Hundreds of routes × (body, query, params, headers, each response status): far more than a handful.
    assert.ok(compiled > 200, `only ${compiled} pending compiles at start-up`);
    assert.equal(t.app.compilePendingSchemas(), 0, "each is compiled once");
  });

  it("a route still validates after its validator was compiled lazily: bad input is a 4xx in the surface's shape", async () => {
    const res = await t.request({ method: "POST", url: "/admin/v1/entities", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, payload: { name: 42 } });
    assert.equal(res.statusCode, 400, res.body);
  });
});
