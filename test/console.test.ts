import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, it } from "node:test";
import vm from "node:vm";
import { startTestApp, type TestApp } from "./helpers/app.ts";

// The web console is three static files over the public /v1 API. What can be
// checked without a browser: it is served with a CSP that forbids inline and
// foreign script, the script parses, builds no HTML from strings, and calls
// only /v1/integrations endpoints, never the admin API.

const SCRIPT = fs.readFileSync(new URL("../src/surfaces/console/assets/app.js", import.meta.url), "utf8");

describe("the web console", () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp("pglite");
  });
  after(async () => t.close());

  it("GET /console is the page, with a strict CSP and no inline script or handlers; / redirects to it", async () => {
    const res = await t.request({ method: "GET", url: "/console" });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers["content-type"]), /^text\/html/);
    const csp = String(res.headers["content-security-policy"]);
    for (const directive of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) assert.ok(csp.includes(directive), csp);
    assert.ok(!csp.includes("unsafe-inline") && !csp.includes("unsafe-eval"));
    assert.equal(res.headers["x-frame-options"], "DENY");
    assert.equal(res.headers["cache-control"], "no-store");
    const scripts = [...res.body.matchAll(/<script\b([^>]*)>/g)];
    assert.equal(scripts.length, 1);
    assert.match(scripts[0]![1]!, /src="\/console\/app\.js"/);
    assert.doesNotMatch(res.body, /\son[a-z]+=/i, "inline event handler");

    const root = await t.request({ method: "GET", url: "/" });
    assert.equal(root.statusCode, 302);
    assert.equal(root.headers.location, "/console");
  });

  it("serves its script and stylesheet with their types, and they are left out of the OpenAPI document", async () => {
    const js = await t.request({ method: "GET", url: "/console/app.js" });
    assert.equal(js.statusCode, 200);
    assert.match(String(js.headers["content-type"]), /^text\/javascript/);
    assert.equal(js.body, SCRIPT);
    const css = await t.request({ method: "GET", url: "/console/console.css" });
    assert.equal(css.statusCode, 200);
    assert.match(String(css.headers["content-type"]), /^text\/css/);
    const doc = (await t.request({ method: "GET", url: "/openapi.json" })).json() as { paths: Record<string, unknown> };
    assert.ok(!Object.keys(doc.paths).some((p) => p.startsWith("/console")));
  });

  it("the script parses, never turns strings into HTML or code, and talks only to /v1/integrations", () => {
    assert.doesNotThrow(() => new vm.Script(SCRIPT, { filename: "app.js" }));
    for (const sink of [/\.innerHTML\b/, /\.outerHTML\b/, /insertAdjacentHTML/, /document\.write/, /\beval\(/, /new Function\(/]) {
      assert.doesNotMatch(SCRIPT, sink);
    }
    const paths = [...SCRIPT.matchAll(/"(\/[a-z0-9_\/-]*)/g)].map((m) => m[1]!);
    assert.ok(paths.length > 5);
    // Full paths, and the suffixes appended to /v1/integrations/{type}.
    const suffixes = new Set(["/verify", "/credentials", "/webhook-secret"]);
    for (const p of paths) assert.ok(p.startsWith("/v1/integrations") || suffixes.has(p), `the console calls ${p}`);
    // Keys live in the tab's session storage only, never in local storage or a cookie.
    assert.doesNotMatch(SCRIPT, /localStorage|document\.cookie/);
  });
});
