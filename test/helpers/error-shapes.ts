import assert from "node:assert/strict";

export type Surface = "flat" | "fastapi" | "jsonapi";

/** Which error shape answers a path: the README's table of surfaces. */
export function surfaceOfPath(path: string): Surface | null {
  if (/^\/(v1|admin\/v1)(\/|$|\?)/.test(path)) return "flat";
  if (/^\/(connections|simulated-connections|retailers|purchases|webhooks|link-tokens)(\/|$|\?)/.test(path)) return "fastapi";
  if (/^\/api\/v3(\/|$|\?)/.test(path)) return "jsonapi";
  return null;
}

/** The errors page's "Error types" table: the category a status belongs to. */
export function arcusTypeOf(status: number): string {
  if (status === 401 || status === 403) return "permission_error";
  if (status === 404) return "not_found";
  if (status === 409) return "conflict";
  if (status === 429) return "rate_limit";
  if (status === 501) return "not_implemented";
  if (status >= 500) return "internal";
  return "validation_error";
}

export interface SeenResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function header(res: SeenResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * An error answer in the shape of its path's surface, with the request id
 * (body and x-request-id on /v1 and /admin/v1; x-request-id elsewhere, whose
 * shapes have no field for it). `code` is the flat/JSON:API code expected.
 */
export function assertErrorShape(path: string, res: SeenResponse, expect: { status: number; code?: string }): void {
  const where = `${res.status} ${path}: ${res.body.slice(0, 300)}`;
  assert.equal(res.status, expect.status, where);
  assert.match(String(header(res, "content-type")), /^application\/json/, where);
  const requestId = header(res, "x-request-id");
  assert.match(String(requestId), /^req_[A-Za-z0-9]{20}$/, `x-request-id on ${where}`);
  const body = JSON.parse(res.body) as Record<string, unknown>;
  const surface = surfaceOfPath(path);
  if (surface === "flat") {
    assert.deepEqual(Object.keys(body).filter((k) => !["error", "code", "type", "hint", "param", "required", "request_id"].includes(k)), [], where);
    // docs.arcuserp.com/concepts/errors: error is the machine key and equals code; type is the category of the status.
    assert.equal(body.error, body.code, where);
    assert.equal(body.type, arcusTypeOf(expect.status), where);
    assert.equal(typeof body.hint, "string", where);
    assert.ok(body.param === null || typeof body.param === "string", where);
    assert.equal(body.request_id, requestId, where);
    if (expect.code) assert.equal(body.code, expect.code, where);
    else assert.equal(typeof body.code, "string", where);
  } else if (surface === "fastapi") {
    assert.deepEqual(Object.keys(body), ["detail"], where);
    if (expect.status === 422) assert.ok(Array.isArray(body.detail) && body.detail.length > 0, where);
    else assert.equal(typeof body.detail, "string", where);
  } else if (surface === "jsonapi") {
    assert.deepEqual(Object.keys(body), ["errors"], where);
    const errors = body.errors as Array<Record<string, unknown>>;
    assert.ok(Array.isArray(errors) && errors.length > 0, where);
    for (const [i, e] of errors.entries()) {
      // The Sendcloud v3 ErrorObject: status a string; optional id, links.about, source, meta and nothing else.
      assert.deepEqual(Object.keys(e).filter((k) => !["id", "links", "status", "code", "title", "detail", "source", "meta"].includes(k)), [], where);
      assert.equal(e.status, String(expect.status), where);
      assert.equal(e.id, errors.length > 1 ? `${requestId}-${i + 1}` : requestId, `error id on ${where}`);
      if (e.links !== undefined) assert.match(String((e.links as { about?: unknown }).about), /^https:\/\/sendcloud\.dev\//, where);
      if (e.source !== undefined) {
        const keys = Object.keys(e.source as object);
        assert.ok(keys.length === 1 && ["pointer", "parameter", "header"].includes(keys[0]!), where);
      }
      assert.equal(typeof e.title, "string", where);
      assert.equal(typeof e.detail, "string", where);
      if (expect.code) assert.equal(e.code, expect.code, where);
    }
  } else {
    assert.fail(`no surface for ${path}`);
  }
  if (expect.status === 503) assert.match(String(header(res, "retry-after")), /^\d+$/, `retry-after on ${where}`);
}
