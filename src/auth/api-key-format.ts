import crypto, { createHash } from "node:crypto";
import { randomBase62 } from "../kernel/ids.ts";

export type KeyMode = "live" | "test";

const KEY_RE = /^ark_(live|test)_ent_[0-9A-Za-z]{40}$/;

/** A new secret key: `ark_<mode>_ent_` + 40 base62 characters (~238 bits). */
export function generateApiKey(mode: KeyMode): { key: string; prefix: string; hash: Buffer } {
  const key = `ark_${mode}_ent_${randomBase62(40)}`;
  return { key, prefix: key.slice(0, 17), hash: hashApiKey(key) };
}

/** The non-secret public id of a key (HTTP Basic user name on /api/v3). */
export function generatePublicKey(mode: KeyMode): string {
  return `pk_${mode}_${randomBase62(24)}`;
}

/** SHA-256 of the key, as stored. Node's one-shot hash (20.12+) costs about half a Hash object's 5–6 µs, on every authenticated request. */
export const hashApiKey: (key: string) => Buffer =
  typeof crypto.hash === "function" ? (key) => crypto.hash("sha256", key, "buffer") : (key) => createHash("sha256").update(key).digest();

/** The same hash in hex: the in-process lease's key, one string and no buffer per request (src/services/admission.ts). */
export const hashApiKeyHex: (key: string) => string =
  typeof crypto.hash === "function" ? (key) => crypto.hash("sha256", key, "hex") : (key) => createHash("sha256").update(key).digest("hex");

/** Cheap shape check before any database work: a malformed key is simply invalid. */
export function looksLikeApiKey(value: string): boolean {
  return KEY_RE.test(value);
}
