import fc from "fast-check";
import { surfaceOf, type Surface } from "./shapes.ts";

/**
 * Requests generated from the served OpenAPI document: every operation, with
 * valid, boundary and malformed path params, query, headers and bodies.
 */

type Schema = Record<string, any>;

export interface Operation {
  method: string;
  /** The OpenAPI path template, e.g. /v1/integrations/{connector_type}. */
  path: string;
  surface: Surface;
  pathParams: Array<{ name: string; schema: Schema }>;
  query: Array<{ name: string; schema: Schema }>;
  body?: { contentType: string; schema: Schema };
  idempotent: boolean;
}

export function operationsOf(doc: { paths: Record<string, Record<string, any>> }): Operation[] {
  const ops: Operation[] = [];
  for (const [path, byMethod] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(byMethod)) {
      const params: any[] = op.parameters ?? [];
      const content = op.requestBody?.content as Record<string, { schema: Schema }> | undefined;
      const [contentType, media] = content ? Object.entries(content)[0]! : [];
      ops.push({
        method: method.toUpperCase(),
        path,
        surface: surfaceOf(path),
        pathParams: params.filter((p) => p.in === "path").map((p) => ({ name: p.name, schema: p.schema ?? {} })),
        query: params.filter((p) => p.in === "query").map((p) => ({ name: p.name, schema: p.schema ?? {} })),
        body: contentType && media ? { contentType, schema: media.schema } : undefined,
        idempotent: params.some((p) => p.in === "header" && p.name.toLowerCase() === "idempotency-key"),
      });
    }
  }
  return ops;
}

/** The credentials and records the fuzz run made, so that requests reach the handlers. */
export interface Fixtures {
  adminToken: string;
  entityId: string;
  keys: Array<{ key: string; publicKey: string }>;
  /** Path values that exist, per `<path template>:<param>` or per param name. */
  pathValues: Record<string, string[]>;
  /** connection id → an access token for it. */
  accessTokens: Record<string, string>;
  linkTokens: string[];
}

export interface FuzzRequest {
  op: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

// ---------------------------------------------------------------- values

const LONE_SURROGATES = ["\ud800", "a\udfffb", "\udbff\udc00\ud800", "x\udc00"];
const HOSTILE_STRINGS = [
  ...LONE_SURROGATES,
  "\u0000", "x\u0000y", "\u0001\u001f\u007f", "\r\n", "\t", " ", "", "\u202e\u2066rtl", "🦄🦄", "e\u0301\u0301\u0301", "\ufeff", "\uffff\ufffe",
  "'; drop table connectors; --", "\" or 1=1 --", "__proto__", "constructor", "%00", "%ff", "../../etc/passwd", "${7*7}", "{{7*7}}", "<script>x</script>",
  "null", "true", "0", "-1", "1e309", "NaN", "9223372036854775808", "ark_live_ent_" + "0".repeat(40),
];
const LIMIT_NUMBERS = [0, -1, 1, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 - 1, 2 ** 53 + 2, -(2 ** 53), 1e308, -1e308, 0.5, -0, 5e-324, 1e21];

/** `arbitrary` with probability `p`, else null. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, p: number): fc.Arbitrary<T | null> =>
  fc.oneof({ weight: Math.round(p * 100), arbitrary }, { weight: Math.round((1 - p) * 100), arbitrary: fc.constant(null) });

/** Any UTF-16 code unit, lone surrogates included. */
const anyUnitString = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 40 });

const hugeString = fc.constantFrom(255, 256, 1025, 4097, 16_385, 70_000, 300_000).chain((n) => fc.constantFrom("A", "é", "🦄", "\u0000").map((c) => c.repeat(Math.ceil(n / c.length))));

/** Strings for URLs and headers: the huge ones are only in bodies and in a few path parameters. */
const shortHostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 3, arbitrary: anyUnitString },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }) },
);

export const hostileString: fc.Arbitrary<string> = fc.oneof({ weight: 19, arbitrary: shortHostileString }, { weight: 1, arbitrary: hugeString });

function deepValue(depth: number): unknown {
  let v: unknown = "leaf";
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

/** A value of the wrong kind for any field. */
const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: hostileString },
  { weight: 2, arbitrary: fc.constantFrom(...LIMIT_NUMBERS) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, [], {}, [null], { "": "" }) },
  { weight: 1, arbitrary: fc.constantFrom(50, 500, 2000).map(deepValue) },
);

function formatted(format: string | undefined, maxLength?: number): fc.Arbitrary<string> | null {
  switch (format) {
    case "uuid":
      return fc.uuid();
    case "email":
      return fc.emailAddress().filter((e) => maxLength === undefined || e.length <= maxLength);
    case "uri":
      return fc.webUrl();
    case "date-time":
      return fc.date({ min: new Date("1970-01-01"), max: new Date("2100-01-01"), noInvalidDate: true }).map((d) => d.toISOString());
    default:
      return null;
  }
}

/** A value the schema accepts, or one at (or just past) its limits. */
export function fromSchema(s: Schema, depth = 0): fc.Arbitrary<unknown> {
  if (s.const !== undefined) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
  const alternatives = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (alternatives) return fc.oneof(...alternatives.map((a) => fromSchema(a, depth)));
  if (Array.isArray(s.type)) return fc.oneof(...(s.type as string[]).map((type) => fromSchema({ ...s, type }, depth)));
  switch (s.type) {
    case "string": {
      const min: number = s.minLength ?? 0;
      const max: number = s.maxLength ?? 64;
      const boundary = fc.constantFrom(...new Set([min, Math.max(0, min - 1), max, max + 1])).map((n) => "x".repeat(n));
      const shaped = formatted(s.format, s.maxLength) ?? (s.pattern ? fc.stringMatching(new RegExp(s.pattern)) : fc.string({ minLength: min, maxLength: Math.min(max, 64) }));
      return fc.oneof({ weight: 4, arbitrary: shaped }, { weight: 1, arbitrary: boundary });
    }
    case "integer":
    case "number": {
      const min: number = s.minimum ?? -1_000_000;
      const max: number = s.maximum ?? 1_000_000;
      const inRange = s.type === "integer" ? fc.integer({ min, max }) : fc.double({ min, max, noNaN: true });
      return fc.oneof({ weight: 4, arbitrary: inRange }, { weight: 1, arbitrary: fc.constantFrom(min, max, min - 1, max + 1) });
    }
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array": {
      const items = s.items ? fromSchema(s.items, depth + 1) : fc.jsonValue({ maxDepth: 1 });
      return fc.array(items, { minLength: s.minItems ?? 0, maxLength: Math.min((s.maxItems ?? 4) + 1, 12) });
    }
    case "object":
    default: {
      if (depth > 4) return fc.constant({});
      const props = (s.properties ?? {}) as Record<string, Schema>;
      const required = new Set<string>(s.required ?? []);
      const shape = fc.record(
        Object.fromEntries(Object.entries(props).map(([k, v]) => [k, fromSchema(v, depth + 1)])),
        { requiredKeys: Object.keys(props).filter((k) => required.has(k)) },
      );
      const additional = typeof s.additionalProperties === "object" ? fromSchema(s.additionalProperties, depth + 1) : s.additionalProperties === true ? fc.jsonValue({ maxDepth: 2 }) : null;
      if (!additional) return shape;
      return fc.tuple(shape, fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }), additional, { maxKeys: 4 })).map(([a, b]) => ({ ...b, ...a }));
    }
  }
}

type Mutation = { kind: "none" } | { kind: "replace" | "extra"; key: string; value: unknown } | { kind: "drop"; key: string } | { kind: "whole"; value: unknown };

/** A body: valid from the schema, or with one field replaced, added or dropped, or something else entirely. */
function bodyValue(schema: Schema): fc.Arbitrary<unknown> {
  const keys = Object.keys(schema.properties ?? {});
  const key = keys.length > 0 ? fc.constantFrom(...keys) : fc.constant("field");
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    { weight: 5, arbitrary: fc.constant({ kind: "none" as const }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant("replace" as const), key, value: weirdValue }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("extra" as const), key: fc.oneof(hostileString, fc.constantFrom("__proto__", "credentials", "entity_id", "id", "constructor")), value: weirdValue }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("drop" as const), key }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("whole" as const), value: weirdValue }) },
  );
  return fc.tuple(fromSchema(schema), mutation).map(([valid, m]) => {
    if (m.kind === "none") return valid;
    if (m.kind === "whole") return m.value;
    const obj = { ...(valid as Record<string, unknown>) };
    if (m.kind === "drop") delete obj[m.key];
    // defineProperty: a "__proto__" key becomes an own field of the JSON, as a hostile client would send it.
    else Object.defineProperty(obj, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
    return obj;
  });
}

/** Bodies no JSON serialiser makes: broken syntax, bad bytes, huge numbers, deep nesting. */
const MALFORMED_TEXTS = [
  "{", "}", "{\"a\":}", "[1,]", "{\"a\":1,}", "NaN", "undefined", "\ufeff{}", "{\"a\":1,\"a\":2}", "", " ", "null", "[]", "\"text\"", "1e400",
  "123456789012345678901234567890", "{\"name\":\"\\ud800\"}", "{\"name\":\"\\u0000\"}", "{\"name\":\"\\x41\"}", "{'a':1}", "{\"a\":01}", "{\"a\":1}garbage",
  "{\"__proto__\":{\"polluted\":1}}", "{\"constructor\":{\"prototype\":{\"polluted\":1}}}",
  `{"config":${"[".repeat(5000)}${"]".repeat(5000)}}`, `${"{\"a\":".repeat(3000)}1${"}".repeat(3000)}`,
];
const malformedBody: fc.Arbitrary<string | Buffer> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...MALFORMED_TEXTS) },
  { weight: 1, arbitrary: fc.constantFrom(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), Buffer.from([0xc0, 0xaf]), Buffer.from("{\"a\":\"\u00e9\"}", "latin1")) },
  { weight: 1, arbitrary: fc.constant("{\"display_name\":\"" + "x".repeat(1_100_000) + "\"}") },
);

const CONTENT_TYPES = [
  "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/vnd.api+json", "application/json; charset=utf-16",
  "application/json; charset=\"", "application/json;;", "APPLICATION/JSON", "application/jsonx", "*/*", "", "application/json, text/html", "\u0000",
];

// ---------------------------------------------------------------- URL pieces

/** Percent-encodes UTF-16 as WTF-8, so that a lone surrogate reaches the server as the (invalid) bytes ED A0 80. */
export function percentEncode(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const next = s.charCodeAt(i + 1);
    let cp = c;
    if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
      i++;
    }
    if (cp < 0x80 && /[A-Za-z0-9\-._~]/.test(String.fromCharCode(cp))) {
      out += String.fromCharCode(cp);
      continue;
    }
    const bytes = cp < 0x80 ? [cp] : cp < 0x800 ? [0xc0 | (cp >> 6), 0x80 | (cp & 63)] : cp < 0x10000 ? [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)] : [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
    out += bytes.map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join("");
  }
  return out;
}

const RAW_URL_PIECES = ["%ff", "%", "%zz", "%c0%af", "%ED%A0%80", "a%2Fb", "..", ".", "%2e%2e", "a;b", "a b"];
const PARAM_LIMITS = ["0", "-1", "1", "2147483647", "2147483648", "9007199254740993", "99999999999999999999", "1.5", "1e3", "0x10", " 1", "00000000-0000-0000-0000-000000000000"];

function pathValue(op: Operation, name: string, schema: Schema, fixtures: Fixtures): fc.Arbitrary<string> {
  const known = fixtures.pathValues[`${op.path}:${name}`] ?? fixtures.pathValues[name] ?? [];
  const options: Array<fc.WeightedArbitrary<string>> = [
    { weight: 2, arbitrary: fromSchema(schema).map((v) => percentEncode(String(v))) },
    { weight: 1, arbitrary: fc.oneof(shortHostileString, fc.constantFrom(...PARAM_LIMITS)).map(percentEncode) },
    { weight: 1, arbitrary: fc.constantFrom(...RAW_URL_PIECES, "a".repeat(101), "a".repeat(10_000)) },
  ];
  if (known.length > 0) options.push({ weight: 8, arbitrary: fc.constantFrom(...known).map(percentEncode) });
  return fc.oneof(...options);
}

function queryString(op: Operation): fc.Arbitrary<string> {
  const declared = op.query.map((q) =>
    sometimes(
      fc.oneof(
        { weight: 3, arbitrary: fromSchema(q.schema).map((v) => [q.name, percentEncode(Array.isArray(v) ? String(v[0] ?? "") : String(v))] as const) },
        { weight: 1, arbitrary: shortHostileString.map((v) => [q.name, percentEncode(v)] as const) },
        { weight: 1, arbitrary: fc.constantFrom(...RAW_URL_PIECES, ...PARAM_LIMITS).map((v) => [q.name, v] as const) },
      ),
      0.5,
    ),
  );
  const extra = sometimes(fc.tuple(fc.constantFrom("limit", "foo", "__proto__", "sort", "a[b]", "%ff", ""), fc.oneof(fc.constantFrom(...PARAM_LIMITS, ...RAW_URL_PIECES), shortHostileString.map(percentEncode))), 0.15);
  const repeated = sometimes(fc.constantFrom(...op.query.map((q) => q.name), "x"), 0.1);
  return fc.tuple(fc.tuple(...declared), extra, repeated).map(([pairs, more, again]) => {
    const all = [...pairs.filter((p): p is readonly [string, string] => p !== null), ...(more ? [more] : [])];
    if (again) all.push([again, "1"], [again, "2"]);
    return all.length === 0 ? "" : `?${all.map(([k, v]) => `${percentEncode(k)}=${v}`).join("&")}`;
  });
}

// ---------------------------------------------------------------- headers

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** The surface's own credentials (most requests), or a broken variant. */
function authHeaders(op: Operation, fixtures: Fixtures, connectionId: string | undefined): fc.Arbitrary<Record<string, string>> {
  const key = fc.constantFrom(...fixtures.keys);
  let valid: fc.Arbitrary<Record<string, string>>;
  switch (op.surface) {
    case "admin":
      valid = fc.constant({ authorization: `Bearer ${fixtures.adminToken}` });
      break;
    case "connections": {
      const token = connectionId ? fixtures.accessTokens[connectionId] : undefined;
      valid = key.map((k) => ({ "x-api-key": k.key, ...(token ? { authorization: `Bearer ${token}` } : {}) }));
      break;
    }
    case "shop":
      valid = key.map((k) => ({ authorization: basic(k.publicKey, k.key) }));
      break;
    case "link":
      valid = fc.constant({});
      break;
    default:
      valid = key.map((k) => ({ authorization: `Bearer ${k.key}` }));
  }
  const garbage = fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom("ark_live_ent_", "ark_test_ent_" + "z".repeat(60), "x".repeat(8000), "\u0000", "é"));
  const bad: fc.Arbitrary<Record<string, string>> = fc.oneof(
    fc.constant({}),
    garbage.map((g) => ({ authorization: `Bearer ${g}` })),
    garbage.map((g) => ({ authorization: g })),
    garbage.map((g) => ({ "x-api-key": g })),
    fc.tuple(garbage, garbage).map(([u, p]) => ({ authorization: basic(u, p) })),
    fc.constantFrom("Basic", "Basic !!!", "Basic Og==", "Bearer", "Bearer  x", "bearer " + fixtures.adminToken, "Digest x", `Bearer ${fixtures.adminToken}`).map((a) => ({ authorization: a })),
    key.map((k) => ({ authorization: `Bearer ${k.key.slice(0, -1)}x`, "x-api-key": `${k.key}x` })),
    key.map((k) => ({ authorization: basic(k.publicKey, `${k.key}x`) })),
  );
  return fc.oneof({ weight: 5, arbitrary: valid }, { weight: 1, arbitrary: bad });
}

const idempotencyKey: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({}) },
  { weight: 3, arbitrary: fc.uuid().map((k) => ({ "idempotency-key": k })) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(fc.constantFrom("k".repeat(255), "k".repeat(256), "k".repeat(5000), "ключ-🔑", "", " ", "a\u0000b", "a\tb", "a\u001fb", "x\u007f", "a\r\nb", "\ud800"), anyUnitString, shortHostileString)
      .map((k) => ({ "idempotency-key": k })),
  },
);

const otherHeaders: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { weight: 8, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.constantFrom("text/html", "application/json", "*/*", "application/xml", "\u0000").map((a) => ({ accept: a })) },
  { weight: 1, arbitrary: fc.constantFrom("cross-site", "same-origin").map((s) => ({ "sec-fetch-site": s, origin: "https://evil.example" })) },
  { weight: 1, arbitrary: fc.constantFrom("gzip", "br", "x-unknown").map((e) => ({ "content-encoding": e })) },
  { weight: 1, arbitrary: shortHostileString.map((v) => ({ "x-forwarded-for": v, "user-agent": v })) },
);

// ---------------------------------------------------------------- one request

function bodyFor(op: Operation): fc.Arbitrary<{ payload?: string | Buffer; contentType?: string }> {
  if (!op.body) {
    // A body where none is expected, now and then.
    return fc.oneof({ weight: 9, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => ({ payload: JSON.stringify(v) ?? "null", contentType: "application/json" })) });
  }
  const form = op.body.contentType === "application/x-www-form-urlencoded";
  const serialise = (v: unknown): string => {
    if (!form) return JSON.stringify(v) ?? "null";
    if (typeof v !== "object" || v === null) return String(v);
    return Object.entries(v).map(([k, x]) => `${percentEncode(k)}=${percentEncode(typeof x === "string" ? x : JSON.stringify(x) ?? "")}`).join("&");
  };
  const contentType = fc.oneof({ weight: 8, arbitrary: fc.constant(op.body.contentType) }, { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) }, { weight: 1, arbitrary: fc.constant(undefined) });
  return fc.oneof(
    { weight: 8, arbitrary: fc.tuple(bodyValue(op.body.schema), contentType).map(([v, ct]) => ({ payload: serialise(v), contentType: ct })) },
    { weight: 2, arbitrary: fc.tuple(malformedBody, contentType).map(([payload, ct]) => ({ payload, contentType: ct })) },
    { weight: 1, arbitrary: fc.constant({}) },
  );
}

function requestFor(op: Operation, fixtures: Fixtures): fc.Arbitrary<FuzzRequest> {
  const params = fc.tuple(...op.pathParams.map((p) => pathValue(op, p.name, p.schema, fixtures)));
  return fc.tuple(params, queryString(op), bodyFor(op), idempotencyKey, otherHeaders).chain(([values, query, body, idem, other]) => {
    let url = op.path;
    op.pathParams.forEach((p, i) => (url = url.replace(`{${p.name}}`, values[i]!)));
    const connectionId = op.pathParams.some((p) => p.name === "connection_id") ? values[op.pathParams.findIndex((p) => p.name === "connection_id")] : undefined;
    let linkQuery = "";
    if (op.path === "/link" && op.method === "GET" && fixtures.linkTokens.length > 0 && !query.includes("connection_token=")) {
      linkQuery = `${query ? "&" : "?"}connection_token=${fixtures.linkTokens[0]}`;
    }
    return authHeaders(op, fixtures, connectionId).map((auth) => {
      const headers: Record<string, string> = { ...other, ...auth, ...idem };
      if (body.contentType !== undefined) headers["content-type"] = body.contentType;
      return { op: `${op.method} ${op.path}`, method: op.method, url: `${url}${query}${linkQuery}`, headers, payload: body.payload };
    });
  });
}

/** Requests spread evenly over every operation. */
export function requestArbitrary(ops: Operation[], fixtures: Fixtures): fc.Arbitrary<FuzzRequest> {
  return fc.oneof(...ops.map((op) => requestFor(op, fixtures)));
}

/** A short, printable form of a request, to reproduce it. */
export function describeRequest(r: FuzzRequest): string {
  const body = r.payload === undefined ? "" : Buffer.isBuffer(r.payload) ? ` body(hex)=${r.payload.toString("hex").slice(0, 200)}` : ` body=${JSON.stringify(r.payload.length > 300 ? `${r.payload.slice(0, 300)}…(${r.payload.length} chars)` : r.payload)}`;
  const headers = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, v.length > 120 ? `${v.slice(0, 120)}…(${v.length} chars)` : v]));
  const url = r.url.length > 300 ? `${r.url.slice(0, 300)}…(${r.url.length} chars)` : r.url;
  return `${r.method} ${url} headers=${JSON.stringify(headers)}${body}`;
}
