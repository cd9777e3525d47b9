// The console's only way to the server: the public APIs, with the credential
// the user signed in with. Errors of every surface (/v1 and /admin/v1 flat
// errors, /connections' `detail`, /api/v3's JSON:API `errors`) become one
// shape: a message, the API's hint, and per-field messages keyed by field name.
import { useRef, useState } from "preact/hooks";

const STORE = "patchbay.console.session";

/** The signed-in credential: an entity API key (with its public key for /api/v3) or the admin token. */
export const session = {
  load() {
    try {
      return JSON.parse(sessionStorage.getItem(STORE) || "null");
    } catch {
      return null;
    }
  },
  save(value) {
    if (value) sessionStorage.setItem(STORE, JSON.stringify(value));
    else sessionStorage.removeItem(STORE);
  },
};

export class ApiError extends Error {
  constructor(status, message, hint, fields) {
    super(message);
    this.status = status;
    this.hint = hint || null;
    this.fields = fields || {};
  }
}

/** A JSON:API source.pointer ("/webhook_url", "/data/attributes/x", or "body/x" as /api/v3's POST …/logs answers) as a dotted field name. */
function fieldOfPointer(pointer) {
  return pointer
    .replace(/^(body\/|\/(data\/attributes\/)?)/, "")
    .split("/")
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .join(".");
}

/** One error shape from any surface's error body. */
export function toApiError(status, body) {
  if (body && typeof body.error === "string") {
    // Arcus's envelope: error is the machine key, hint the sentence for a person.
    const message = body.hint || body.error;
    const fields = body.param ? { [body.param]: message } : {};
    return new ApiError(status, message, null, fields);
  }
  if (body && Array.isArray(body.errors)) {
    const fields = {};
    for (const e of body.errors) {
      const source = e.source || {};
      const name = source.pointer ? fieldOfPointer(source.pointer) : source.parameter;
      if (name) fields[name] = e.detail || e.title;
    }
    const first = body.errors[0] || {};
    return new ApiError(status, first.detail || first.title || `The server answered ${status}.`, null, fields);
  }
  if (body && Array.isArray(body.detail)) {
    const fields = {};
    for (const d of body.detail) fields[(d.loc || []).filter((p) => p !== "body" && p !== "query").join(".")] = d.msg;
    return new ApiError(status, body.detail.map((d) => d.msg).join("; "), null, fields);
  }
  if (body && typeof body.detail === "string") return new ApiError(status, body.detail, body.hint, {});
  return new ApiError(status, `The server answered ${status}.`, null, {});
}

function authHeaders(cred, path) {
  if (!cred) return {};
  if (cred.kind === "admin") return { authorization: `Bearer ${cred.token}` };
  if (path.startsWith("/api/v3/")) {
    return { authorization: `Basic ${btoa(`${cred.publicKey || ""}:${cred.key}`)}` };
  }
  if (/^\/(connections|simulated-connections|retailers|purchases|link-tokens|webhooks)(\/|\?|$)/.test(path)) {
    // Per-connection routes take a connection token of scope access besides the key.
    return cred.connectionToken ? { "x-api-key": cred.key, authorization: `Bearer ${cred.connectionToken}` } : { "x-api-key": cred.key };
  }
  return { authorization: `Bearer ${cred.key}` };
}

export function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `console-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** One call; resolves to the parsed body (null for 204), rejects with an ApiError. */
export async function call(cred, method, path, { body, idempotencyKey, withHeaders = false } = {}) {
  const headers = { ...authHeaders(cred, path) };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (idempotencyKey) headers["idempotency-key"] = idempotencyKey;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  } catch {
    throw new ApiError(0, "Patchbay could not be reached.", "Check that the server is running, then try again.");
  }
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) throw toApiError(res.status, json);
  return withHeaders ? { body: json, headers: res.headers } : json;
}

/** The cursor of a Link header's rel="next" (or rel="prev") URL, as /api/v3 pages: null when there is none. */
export function linkCursor(link, rel) {
  for (const part of (link || "").split(",")) {
    const m = part.match(/<([^>]+)>\s*;\s*rel="?([a-z]+)"?/i);
    if (m && (m[2] === rel || (rel === "prev" && m[2] === "previous"))) {
      try {
        return new URL(m[1], location.origin).searchParams.get("cursor");
      } catch {
        return null;
      }
    }
  }
  return null;
}

/**
 * A write behind one button: `running` while it is in flight (the button is
 * disabled), `error` once when it fails. Its Idempotency-Key is kept while the
 * same request is retried after a failure (a lost answer is not applied
 * twice), and a new one is made for a different request or after a success.
 * Routes whose answer carries a secret (a new API key, a connection token)
 * refuse the header: `{ idempotent: false }` leaves it out.
 */
export function useAction(cred) {
  const [running, setRunning] = useState(false);
  const [error, setError] = useState(null);
  const pending = useRef(null);
  async function run(method, path, body, { idempotent = true } = {}) {
    const signature = JSON.stringify([method, path, body ?? null]);
    if (!pending.current || pending.current.signature !== signature) {
      pending.current = { signature, key: newIdempotencyKey() };
    }
    setRunning(true);
    setError(null);
    try {
      const result = await call(cred, method, path, { body, idempotencyKey: idempotent ? pending.current.key : undefined });
      pending.current = null;
      return { ok: true, result };
    } catch (err) {
      setError(err);
      return { ok: false, error: err };
    } finally {
      setRunning(false);
    }
  }
  return { run, running, error, clear: () => setError(null) };
}

/** Follows a cursor-paged /v1 list: `page.data`, `older()`, `newer()`, `reload()`. */
export function cursorQuery(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

let openapiDoc = null;
/** The server's OpenAPI document (public), read once per tab: the console takes its vocabularies (scopes, event types) from it. */
export function openapi() {
  if (!openapiDoc) {
    openapiDoc = call(null, "GET", "/openapi.json").catch((err) => {
      openapiDoc = null;
      throw err;
    });
  }
  return openapiDoc;
}

/** The JSON body schema of one operation in the OpenAPI document. */
export function bodySchema(doc, path, method) {
  return doc.paths?.[path]?.[method]?.requestBody?.content?.["application/json"]?.schema ?? null;
}
