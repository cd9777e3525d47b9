export interface BasicCredentials {
  user: string;
  password: string;
}

const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * RFC 7617 `Authorization: Basic base64(user:password)`.
 * `absent`: no Basic credentials at all (no header, or another scheme);
 * `malformed`: a Basic header that does not decode to `user:password`.
 */
export function basicCredentials(header: string | undefined): BasicCredentials | "absent" | "malformed" {
  if (!header) return "absent";
  const m = /^Basic(?:\s+(\S*))?\s*$/i.exec(header);
  if (!m) return "absent";
  const encoded = m[1] ?? "";
  if (!BASE64_RE.test(encoded)) return "malformed";
  const decoded = Buffer.from(encoded, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 1 || colon === decoded.length - 1) return "malformed";
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
