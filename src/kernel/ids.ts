import { randomBytes } from "node:crypto";
import { monotonicFactory } from "ulid";

let lastMs = 0;
let seq = 0;

/**
 * Random bytes for identifiers (UUIDv7s, request ids), drawn from one 4 KiB
 * block refilled when spent — what Node's own randomUUID does — instead of one
 * call into the random generator per id (a few microseconds each, on every
 * request). Secrets (keys, tokens) never come from here: randomBase62 draws
 * its own bytes each time.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolAt = 0;
function idBytes(n: number): Buffer {
  if (poolAt + n > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolAt = 0;
  }
  const out = pool.subarray(poolAt, poolAt + n);
  poolAt += n;
  return out;
}

/**
 * UUIDv7 (RFC 9562): time-ordered, so "order by id" is creation order and
 * keyset pagination needs no second column. Within one millisecond a 12-bit
 * counter in rand_a keeps ids from this process strictly increasing (method 1
 * of RFC 9562 §6.2).
 */
export function uuidv7(now: Date = new Date()): string {
  const bytes = Buffer.from(idBytes(16));
  let t = now.getTime();
  if (t <= lastMs) {
    t = lastMs;
    seq += 1;
    if (seq > 0xfff) {
      t += 1;
      seq = 0;
    }
  } else {
    seq = bytes[6]! & 0x07; // a small random start leaves room to count up
  }
  lastMs = t;
  const ms = BigInt(t);
  for (let i = 0; i < 6; i++) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  bytes[6] = 0x70 | (seq >> 8);
  bytes[7] = seq & 0xff;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * UUIDv7 ids for batches written after their rows were recorded (a log's
 * buffer): each id carries exactly its own row's millisecond — never moved on,
 * as uuidv7's may be, so a purge or a time filter by id range is exact — and
 * within one millisecond the sequence's own 12-bit counter keeps its ids in
 * order from one batch to the next. One random buffer per batch, hex-encoded
 * once, instead of 16 random bytes and a BigInt per id.
 */
export function uuidv7Sequence(): (times: readonly number[]) => string[] {
  let lastMs = -1;
  let seq = 0;
  return (times) => {
    const n = times.length;
    const random = n === 0 ? "" : randomBytes(8 * n).toString("hex");
    const ids = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const r = random.slice(i * 16, i * 16 + 16);
      const ms = times[i]!;
      // A small random start leaves room to count up; a full counter wraps (order within that millisecond is lost, not the time).
      seq = ms === lastMs ? (seq + 1) & 0xfff : parseInt(r[0]!, 16) & 0x07;
      lastMs = ms;
      const hex = ms.toString(16).padStart(12, "0").slice(-12);
      // The variant's two high bits are 10: the first hex digit of its group is 8, 9, a or b.
      ids[i] = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${(0x7000 | seq).toString(16)}-${VARIANT[parseInt(r[1]!, 16) & 3]}${r.slice(2, 5)}-${r.slice(5, 16)}${r[0]}`;
    }
    return ids;
  };
}
const VARIANT = ["8", "9", "a", "b"];

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** A random base62 string; 62^n possibilities, unbiased. */
export function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248 && out.length < length) out += BASE62[b % 62];
    }
  }
  return out;
}

/**
 * A request id: `req_` and 20 base62 characters (62^20 ≈ 2^119), from the
 * identifier pool — not a secret, so pooled bytes serve.
 */
export function requestId(): string {
  let out = "req_";
  while (out.length < 24) {
    const bytes = idBytes(32);
    for (let i = 0; i < bytes.length && out.length < 24; i++) if (bytes[i]! < 248) out += BASE62[bytes[i]! % 62];
  }
  return out;
}

/**
 * The lowest UUIDv7 that can carry a time at or after `at` (its millisecond,
 * then the smallest version, counter and variant bits): `id >= lowestUuidv7At(t)`
 * is the time bound `created_at >= t` as a range of the primary key or of an
 * (owner, id) index, and `id < lowestUuidv7At(t)` everything older.
 */
export function lowestUuidv7At(at: Date): string {
  const hex = at.getTime().toString(16).padStart(12, "0").slice(-12);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}

/** The millisecond a UUIDv7 carries (its first 48 bits): the time it was made for. */
export function uuidv7Ms(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(value: string): boolean {
  return UUID_RE.test(value);
}

const monotonicUlid = monotonicFactory();

/** A ULID (26 characters, Crockford base32, time-ordered; strictly increasing within this process). */
export function ulidAt(now: Date): string {
  return monotonicUlid(now.getTime());
}

export const ULID_PATTERN = "^[0-9A-HJKMNP-TV-Z]{26}$";
