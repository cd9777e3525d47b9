import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import type { LightMyRequestResponse } from "fastify";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { assertErrorShape, surfaceOfPath, type SeenResponse } from "./helpers/error-shapes.ts";
import { createTenant, type Tenant } from "./helpers/fixtures.ts";
import { connectShop } from "./helpers/shop-integrations.ts";

// Issue 13 point 6: every answer under /v1, /admin/v1, /connections, /retailers
// and /api/v3 is in that surface's error shape with a request id — also the
// errors raised before routing and by Node's HTTP parser.

const BODY_LIMIT = 4096;

function seen(res: LightMyRequestResponse): SeenResponse {
  return { status: res.statusCode, headers: res.headers as SeenResponse["headers"], body: res.body };
}

/** The expected code on the surfaces that carry one (flat and JSON:API); FastAPI-style bodies have only `detail`. */
function codeFor(path: string, flat: string, jsonApi = flat): string | undefined {
  const surface = surfaceOfPath(path);
  return surface === "flat" ? flat : surface === "jsonapi" ? jsonApi : undefined;
}

/** One raw HTTP/1.1 exchange: what the server wrote before closing. */
function rawExchange(port: number, request: string | Buffer): Promise<SeenResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let data = "";
    socket.setTimeout(5000, () => socket.destroy(new Error("no answer in 5 s")));
    socket.on("data", (d) => (data += d.toString("latin1")));
    socket.on("error", (err) => (data ? undefined : reject(err)));
    socket.on("close", () => {
      const [head = "", body = ""] = data.split("\r\n\r\n");
      const [statusLine = "", ...lines] = head.split("\r\n");
      const headers: Record<string, string> = {};
      for (const l of lines) headers[l.slice(0, l.indexOf(":")).toLowerCase()] = l.slice(l.indexOf(":") + 1).trim();
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body });
    });
    socket.end(request);
  });
}

for (const kind of DB_KINDS) {
  describe(`[${kind}] errors outside the routes are in the surface's shape`, () => {
    let t: TestApp;
    let tenant: Tenant;
    let shopId: number;
    let auth: (path: string) => Record<string, string>;
    before(async () => {
      t = await startTestApp(kind, { env: { PATCHBAY_BODY_LIMIT_BYTES: String(BODY_LIMIT) } });
      tenant = await createTenant(t);
      shopId = await connectShop(t, tenant, "amazon");
      auth = (path): Record<string, string> => {
        const surface = surfaceOfPath(path);
        if (path.startsWith("/admin/v1")) return { authorization: `Bearer pb_admin_test_token_0123456789abcdef` };
        if (surface === "fastapi") return { "x-api-key": tenant.key };
        if (surface === "jsonapi") return { authorization: `Basic ${Buffer.from(`${tenant.publicKey}:${tenant.key}`).toString("base64")}` };
        return { authorization: `Bearer ${tenant.key}` };
      };
    });
    after(async () => t.close());

    const get = (path: string, method: "GET" | "DELETE" | "PUT" | "POST" = "GET") => t.request({ method, url: path, headers: auth(path) });

    it("a path with bad percent-encoding → 400 invalid_url (was FST_ERR_BAD_URL)", async () => {
      for (const path of ["/v1/integrations/%ff", "/admin/v1/entities/%ff/api-keys", "/connections/%ff", "/api/v3/integrations/%ff"]) {
        assertErrorShape(path, seen(await get(path)), { status: 400, code: codeFor(path, "invalid_url", "invalid_url") });
      }
    });

    it("a 10,000-character path parameter → 414 (was FST_ERR_MAX_PARAM_LENGTH)", async () => {
      const long = "a".repeat(10_000);
      for (const path of [`/v1/integrations/${long}`, `/admin/v1/entities/${long}/api-keys`, `/connections/${long}`, `/api/v3/integrations/${long}`]) {
        assertErrorShape(path, seen(await get(path)), { status: 414, code: codeFor(path, "path_parameter_too_long") });
      }
    });

    it("an unknown route → 404, on every surface", async () => {
      for (const path of ["/v1/nothing-here", "/admin/v1/nothing", "/connections/01J51S0JYV6N7K1030CV1ZKSCA/nope", "/retailers/nope", "/api/v3/nothing"]) {
        const res = seen(await get(path));
        assertErrorShape(path, res, { status: 404, code: codeFor(path, "route_not_found", "not_found") });
        if (surfaceOfPath(path) === "fastapi") assert.deepEqual(JSON.parse(res.body), { detail: "Not Found" });
      }
    });

    it("a method the path does not take → 405 with Allow, on every surface", async () => {
      const cases: Array<[string, "DELETE" | "PUT" | "POST", RegExp]> = [
        ["/v1/integrations", "DELETE", /GET/],
        ["/admin/v1/entities", "PUT", /POST/],
        ["/retailers", "POST", /GET/],
        ["/connections", "DELETE", /POST/],
        ["/api/v3/integrations", "DELETE", /GET/],
      ];
      for (const [path, method, allow] of cases) {
        const res = seen(await get(path, method));
        assertErrorShape(path, res, { status: 405, code: codeFor(path, "method_not_allowed") });
        assert.match(String(res.headers.allow), allow, `${method} ${path}`);
        if (surfaceOfPath(path) === "fastapi") assert.deepEqual(JSON.parse(res.body), { detail: "Method Not Allowed" });
      }
    });

    const writes: Array<[string, "POST" | "PATCH"]> = [
      ["/v1/integrations/stripe", "POST"],
      ["/admin/v1/entities", "POST"],
      ["/connections", "POST"],
      ["/api/v3/integrations/SHOP", "PATCH"],
    ];
    const at = (path: string) => path.replace("SHOP", String(shopId));

    it("a body that is not JSON → 400 invalid_json (422 json_invalid on /connections)", async () => {
      for (const [p, method] of writes) {
        const path = at(p);
        const res = seen(await t.request({ method, url: path, headers: { ...auth(path), "content-type": "application/json" }, payload: '{"name": ' }));
        assertErrorShape(path, res, { status: surfaceOfPath(path) === "fastapi" ? 422 : 400, code: codeFor(path, "invalid_json", "non_field_errors") });
      }
    });

    it("a body of another media type → 415; a body over the limit → 413", async () => {
      for (const [p, method] of writes) {
        const path = at(p);
        const plain = seen(await t.request({ method, url: path, headers: { ...auth(path), "content-type": "application/xml" }, payload: "<a/>" }));
        assertErrorShape(path, plain, { status: 415, code: codeFor(path, "unsupported_media_type") });
        const big = JSON.stringify({ name: "x".repeat(BODY_LIMIT * 2) });
        const large = seen(await t.request({ method, url: path, headers: { ...auth(path), "content-type": "application/json" }, payload: big }));
        assertErrorShape(path, large, { status: 413, code: codeFor(path, "body_too_large") });
      }
    });

    describe("requests Node's HTTP parser refuses, over a real socket", () => {
      let port: number;
      before(async () => {
        await t.app.listen({ port: 0, host: "127.0.0.1" });
        port = (t.app.server.address() as net.AddressInfo).port;
      });

      const paths = ["/v1/integrations", "/admin/v1/entities", "/connections", "/retailers", "/api/v3/integrations"];

      it("a 70 KB header → 431 headers_too_large", async () => {
        for (const path of paths) {
          const res = await rawExchange(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(70_000)}\r\n\r\n`);
          assertErrorShape(path, res, { status: 431, code: codeFor(path, "headers_too_large") });
        }
      });

      it("Content-Length with Transfer-Encoding → 400 malformed_request (was 'Client Error')", async () => {
        for (const path of paths) {
          const res = await rawExchange(port, `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`);
          assertErrorShape(path, res, { status: 400, code: codeFor(path, "malformed_request") });
        }
      });

      it("a control character in Idempotency-Key → 400 invalid_header", async () => {
        for (const path of paths) {
          const res = await rawExchange(port, `POST ${path} HTTP/1.1\r\nHost: x\r\nIdempotency-Key: ab\x01cd\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`);
          assertErrorShape(path, res, { status: 400, code: codeFor(path, "invalid_header") });
        }
      });
    });
  });
}

describe("the OpenAPI document lists each operation's error responses", () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp("pglite");
  });
  after(async () => t.close());

  it("every operation has 4xx and 5xx entries with its surface's error schema", async () => {
    const doc = (await t.request({ method: "GET", url: "/openapi.json" })).json() as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> }>> };
    const schemaFor = { flat: "#/components/schemas/Error", fastapi: "#/components/schemas/ConnectionsHTTPError", jsonapi: "#/components/schemas/JsonApiErrors" };
    let operations = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        // The probes and /metrics belong to no surface: their errors are the root's flat shape.
        const probe = ["/livez", "/readyz", "/healthz", "/metrics"].includes(path);
        const surface = probe ? "flat" : surfaceOfPath(path);
        operations++;
        const where = `${method.toUpperCase()} ${path}`;
        // /readyz and /healthz answer their own 503 body (which checks failed).
        for (const status of probe ? ["400", "404", "500"] : ["400", "404", "500", "503"]) {
          const ref = op.responses[status]?.content?.["application/json"]?.schema.$ref;
          assert.equal(ref, surface === null ? undefined : schemaFor[surface], `${where} ${status}`);
        }
      }
    }
    assert.ok(operations > 40, `operations: ${operations}`);
  });
});
