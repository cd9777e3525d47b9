import { createHash, createHmac, hkdfSync, type KeyObject } from "node:crypto";

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
 * What "the same request" means for a key: a MAC over method, path and
 * canonical body. The scope and key go in first, so equal bodies of different
 * callers never share a fingerprint. Only this is stored, never the body; and
 * since a body may hold a secret (PUT …/credentials), the MAC is keyed with a
 * key derived from the master keys (fingerprintKey): someone who reads the
 * table cannot test guesses of a weak secret against it. Without a key
 * (unit tests of the shape) it is a plain SHA-256.
 */
export function requestFingerprint({ scope, key, method, path, body }: FingerprintInput, macKey: Buffer | null = null): Buffer {
  const h = macKey ? createHmac("sha256", macKey) : createHash("sha256");
  return h.update([scope, key, method.toUpperCase(), path, canonicalJson(body)].join("\0")).digest();
}

/**
 * The fingerprint key: derived from the oldest master key of the ring, which
 * every process shares and which stays while a new key is added. Removing it
 * (after a rewrap) changes the key: a retry of a request stored before that
 * then counts as another request (409 idempotency_key_mismatch) for the rest
 * of its 24 hours.
 */
export function fingerprintKey(ring: { keys: readonly { key: KeyObject }[] }): Buffer | null {
  const oldest = ring.keys.at(-1);
  return oldest ? Buffer.from(hkdfSync("sha256", oldest.key.export(), "patchbay", "idempotency-fingerprint v1", 32)) : null;
}
