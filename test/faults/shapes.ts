/**
 * Which surface a path belongs to, and whether a response is in that
 * surface's error shape (SPEC §1): the checks of the fault suite's fuzz run.
 */

export type Surface = "v1" | "admin" | "connections" | "shop" | "link" | "other";

export function surfaceOf(path: string): Surface {
  const p = path.split("?")[0] ?? "";
  if (p === "/admin/v1" || p.startsWith("/admin/v1/")) return "admin";
  if (p === "/v1" || p.startsWith("/v1/")) return "v1";
  if (/^\/(connections|retailers|simulated-connections|purchases|webhooks|link-tokens)(\/|$)/.test(p)) return "connections";
  if (p === "/api/v3" || p.startsWith("/api/v3/")) return "shop";
  if (p === "/link" || p.startsWith("/link/")) return "link";
  return "other";
}

export interface SeenResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const FLAT_KEYS = new Set(["error", "code", "type", "request_id", "hint", "param", "required"]);
const FLAT_TYPES = new Set(["validation_error", "permission_error", "not_found", "conflict", "rate_limit", "expand_error", "not_implemented", "internal"]);

function header(res: SeenResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function json(res: SeenResponse): unknown {
  try {
    return JSON.parse(res.body);
  } catch {
    return undefined;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Why an error response is not in its surface's shape, or null when it is. */
export function shapeProblem(surface: Surface, res: SeenResponse, acceptsHtml = false): string | null {
  const requestId = header(res, "x-request-id");
  if (!requestId) return "no x-request-id header";
  const contentType = header(res, "content-type") ?? "";
  if (surface === "link" || (acceptsHtml && contentType.startsWith("text/html"))) {
    return contentType.startsWith("text/html") ? null : `not an HTML page (content-type ${contentType || "none"})`;
  }
  if (!contentType.startsWith("application/json") && !contentType.startsWith("application/vnd.api+json")) return `content-type ${contentType || "none"}`;
  const body = json(res);
  if (!isObject(body)) return "body is not a JSON object";
  switch (surface) {
    case "v1":
    case "admin": {
      const extra = Object.keys(body).filter((k) => !FLAT_KEYS.has(k));
      if (extra.length > 0) return `flat error has extra keys ${extra.join(",")}`;
      for (const k of ["error", "code", "type", "request_id"]) if (typeof body[k] !== "string") return `flat error lacks ${k}`;
      for (const k of ["hint", "required"]) if (k in body && typeof body[k] !== "string") return `flat error ${k} is not a string`;
      if (body.param !== null && typeof body.param !== "string") return "flat error param is neither null nor a string";
      if (body.error !== body.code) return "flat error: error is not the machine key (code)";
      if (!FLAT_TYPES.has(body.type as string)) return `flat error type ${String(body.type)}`;
      // An idempotent replay answers the stored body verbatim, with the first attempt's request_id (SPEC §3).
      if (body.request_id !== requestId && header(res, "idempotent-replayed") !== "true") return "request_id differs from x-request-id";
      return null;
    }
    case "connections": {
      if (Object.keys(body).join() !== "detail") return `FastAPI error keys ${Object.keys(body).join(",")}`;
      const detail = body.detail;
      if (typeof detail === "string") return null;
      if (!Array.isArray(detail) || detail.length === 0) return "detail is neither a string nor a list";
      for (const d of detail) {
        if (!isObject(d) || !Array.isArray(d.loc) || typeof d.msg !== "string" || typeof d.type !== "string") return "detail item is not {loc, msg, type}";
        if (!d.loc.every((l) => typeof l === "string" || Number.isInteger(l))) return "loc holds something other than strings and integers";
      }
      return null;
    }
    case "shop": {
      if (Object.keys(body).join() !== "errors") return `JSON:API error keys ${Object.keys(body).join(",")}`;
      const errors = body.errors;
      if (!Array.isArray(errors) || errors.length === 0) return "errors is not a non-empty list";
      for (const e of errors) {
        if (!isObject(e)) return "an error is not an object";
        if (e.status !== String(res.status)) return `error status ${String(e.status)} for HTTP ${res.status}`;
        for (const k of ["code", "title", "detail"]) if (typeof e[k] !== "string") return `JSON:API error lacks ${k}`;
        if ("source" in e && !(isObject(e.source) && (typeof e.source.pointer === "string" || typeof e.source.parameter === "string" || typeof e.source.header === "string"))) return "bad source";
        // The Sendcloud v3 ErrorObject's optional members.
        const extra = Object.keys(e).filter((k) => !["id", "links", "status", "code", "title", "detail", "source", "meta"].includes(k));
        if (extra.length > 0) return `JSON:API error has ${extra.join(",")}`;
        if ("id" in e && typeof e.id !== "string") return "error id is not a string";
        if ("links" in e && !(isObject(e.links) && typeof e.links.about === "string")) return "bad links";
        if ("meta" in e && !isObject(e.meta)) return "meta is not an object";
      }
      return null;
    }
    default:
      return null;
  }
}

/** The error code a response carries, for the summary (flat code, JSON:API code, FastAPI type). */
export function codeOf(res: SeenResponse): string {
  const body = json(res);
  if (!isObject(body)) return res.body.length === 0 ? "(empty)" : "(not json)";
  if (typeof body.code === "string") return body.code;
  if (Array.isArray(body.errors) && isObject(body.errors[0])) return String(body.errors[0].code);
  if (typeof body.detail === "string") return "detail";
  if (Array.isArray(body.detail) && isObject(body.detail[0])) return String(body.detail[0].type);
  if (typeof body.error === "string") return `error:${body.error}`;
  return "(other)";
}
