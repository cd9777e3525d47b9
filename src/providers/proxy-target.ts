/**
 * Where a proxied request may go: the connector's base URL and nothing
 * else. The caller's path is checked as it arrived (still percent-encoded),
 * before anything is sent, and the joined URL is checked again.
 */

/** Segments of [A-Za-z0-9_-], dots after their first character; a trailing slash. No %, @, :, backslash or dot segment can match. */
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]*)+\/?$/;

/** Why a path is refused; null when it is acceptable. */
export function refusePath(rawPath: string): string | null {
  // The usual path (letters, digits, -, _, and dots inside segments that do not start with one) passes every check below.
  if (rawPath === "" || PLAIN_PATH.test(rawPath)) return null;
  if (!rawPath.startsWith("/")) return "The path must start with /.";
  if (rawPath.startsWith("//")) return "A path may not start with // (a host of its own).";
  if (/[\u0000-\u0020\u007f-\uffff#]/.test(rawPath)) return "The path holds a control character, a space, a fragment or a non-ASCII byte.";
  if (rawPath.includes("\\") || /%5c/i.test(rawPath)) return "Backslashes are not allowed in the path.";
  if (rawPath.includes("@") || /%40/i.test(rawPath)) return "An @ is not allowed in the path.";
  if (/%2f/i.test(rawPath)) return "Encoded slashes (%2F) are not allowed in the path.";
  if (/%2e/i.test(rawPath)) return "Encoded dots (%2E) are not allowed in the path.";
  if (/%00/.test(rawPath) || /%(?![0-9a-f]{2})/i.test(rawPath)) return "The path holds a malformed or NUL percent-escape.";
  if (/:\/\//.test(rawPath) || /^\/[a-z][a-z0-9+.-]*:/i.test(rawPath)) return "Absolute URLs are not allowed: give the provider path only.";
  if (rawPath.split("/").some((seg) => seg === "." || seg === "..")) return "Dot segments (. and ..) are not allowed in the path.";
  return null;
}

/**
 * The caller's query without the parameters the recipe owns, kept byte for
 * byte otherwise (the provider decodes it, not Patchbay).
 */
export function queryWithout(rawQuery: string, owned: readonly string[]): string {
  if (rawQuery === "") return "";
  const kept = rawQuery.split("&").filter((pair) => {
    if (pair === "") return false;
    const name = pair.split("=", 1)[0]!;
    let decoded: string;
    try {
      decoded = decodeURIComponent(name.replace(/\+/g, " "));
    } catch {
      decoded = name;
    }
    return !owned.includes(decoded);
  });
  return kept.join("&");
}

/** Where a proxied call goes: the base URL's origin, and the path with its query as sent. */
export interface Target {
  origin: string;
  path: string;
}

/** Query bytes that the URL parser keeps as they are (no percent-encoding, no fragment): joined as they came. */
const PLAIN_QUERY = /^[A-Za-z0-9._~%&=+,:@!$()*;/?-]*$/;

/**
 * The provider URL for a checked path: the base URL's origin and path
 * prefix, then the caller's path and query. Null when the result would
 * leave the base (it cannot, for a path refusePath accepted; checked anyway).
 * The usual call (a plain path, a plain query) is joined as text: the URL
 * parser would give back the very same bytes.
 */
export function targetUrl(base: string, rawPath: string, query: string): Target | null {
  const { origin, prefix } = parsedBase(base);
  const joined = `${prefix}${rawPath || "/"}${query ? `?${query}` : ""}`;
  if ((rawPath === "" || PLAIN_PATH.test(rawPath)) && PLAIN_QUERY.test(query)) return { origin, path: joined };
  const url = new URL(`${origin}${joined}`);
  if (url.origin !== origin || !url.pathname.startsWith(prefix || "/") || url.username || url.password) return null;
  return { origin, path: url.pathname + url.search };
}

/** A base URL's origin and path prefix (no trailing slash), parsed once per base (a few per type; one per shop for Shopify). */
function parsedBase(base: string): { origin: string; prefix: string } {
  let parsed = bases.get(base);
  if (!parsed) {
    const url = new URL(base);
    parsed = { origin: url.origin, prefix: url.pathname.replace(/\/+$/, "") };
    if (bases.size >= MAX_BASES) bases.clear();
    bases.set(base, parsed);
  }
  return parsed;
}
const bases = new Map<string, { origin: string; prefix: string }>();
const MAX_BASES = 1_000;
