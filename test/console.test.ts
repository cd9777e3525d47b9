import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, it } from "node:test";
import path from "node:path";
import { ensureConsoleBuilt } from "../scripts/build-console.mjs";
import { startTestApp, type TestApp } from "./helpers/app.ts";

// The web console is a Vite + Preact app (console/) over the public APIs. What
// can be checked without a browser (npm run test:console drives it in one): it
// is served with a CSP that forbids inline and foreign script on every one of
// its paths, its source builds no HTML from strings, and it calls only the
// public API prefixes.

await ensureConsoleBuilt();
const SCRIPT = fs.readFileSync(new URL("../src/surfaces/console/assets/app.js", import.meta.url), "utf8");
const SOURCE_DIR = new URL("../console/src/", import.meta.url);
const SOURCE = fs
  .readdirSync(SOURCE_DIR, { recursive: true, encoding: "utf8" })
  .filter((f) => /\.(jsx?|css)$/.test(f))
  .map((f) => fs.readFileSync(path.join(SOURCE_DIR.pathname, f), "utf8"))
  .join("\n");

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

  it("every page path is the app (client-side routing); a missing file is a 404", async () => {
    for (const url of ["/console/keys", "/console/webhooks", "/console/connections", "/console/audit", "/console/shop-integrations", "/console/connectors", "/console/entities", "/console/api-logs"]) {
      const res = await t.request({ method: "GET", url });
      assert.equal(res.statusCode, 200, url);
      assert.match(String(res.headers["content-security-policy"]), /script-src 'self'/);
      assert.match(res.body, /src="\/console\/app\.js"/);
    }
    assert.equal((await t.request({ method: "GET", url: "/console/nope.js" })).statusCode, 404);
  });

  it("the source never turns strings into HTML or code, keeps keys out of local storage and cookies, and calls only the public APIs", () => {
    for (const sink of [/innerHTML/, /outerHTML/, /insertAdjacentHTML/, /document\.write/, /\beval\(/, /new Function\(/, /style=/]) {
      assert.doesNotMatch(SOURCE, sink);
    }
    assert.doesNotMatch(SOURCE, /localStorage|document\.cookie/);
    const calls = [...SOURCE.matchAll(/(?:call|run)\([^,]*,?\s*"(?:GET|POST|PUT|PATCH|DELETE)",\s*[`"](\/[^`"$?]*)/g)].map((m) => m[1]!);
    assert.ok(calls.length > 20, String(calls.length));
    for (const p of calls) assert.match(p, /^\/(v1\/|admin\/v1\/|connections|simulated-connections\/|retailers|purchases|link-tokens|webhooks|api\/v3\/integrations|openapi\.json)/, `the console calls ${p}`);
  });
});
