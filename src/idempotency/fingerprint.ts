import { createHash } from "node:crypto";

/**
 * JSON with every object's keys sorted, at every depth, so that two bodies
 * that mean the same thing (`{"a":1,"b":2}` and `{"b":2,"a":1}`) read the same.
 * Array order is kept: it is meaning. `undefined` members are dropped, as
 * JSON.stringify would.
 */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return "";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const members = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`);
  return `{${members.join(",")}}`;
}

export interface FingerprintInput {
  scope: string;
  key: string;
  method: string;
  /** The request target as sent: path and query string. */
  path: string;
  /** The parsed body; undefined when there is none. */
  body: unknown;
}

/**
 * What "the same request" means for a key: SHA-256 over method, path and
 * canonical body. The scope and key go in first, as a salt: equal bodies of
 * different callers never share a hash. Only this hash is stored, never the body.
 */
export function requestFingerprint({ scope, key, method, path, body }: FingerprintInput): Buffer {
  return createHash("sha256").update([scope, key, method.toUpperCase(), path, canonicalJson(body)].join("\0")).digest();
}
