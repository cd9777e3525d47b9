import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import type { FastifyServerOptions } from "fastify";

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

type ValidatorFactory = NonNullable<NonNullable<NonNullable<FastifyServerOptions["schemaController"]>["compilersFactory"]>["buildValidator"]>;
type RouteCompile = (route: { schema: object; httpPart?: string }) => unknown;

/** The compiles one app has not run yet (each removes itself once run); compileAll() runs them now (test/lazy-schemas.test.ts). */
export class PendingCompiles {
  readonly pending = new Set<() => void>();
  compileAll(): number {
    const all = [...this.pending];
    for (const compile of all) compile();
    return all.length;
  }
}

/**
 * `compile` runs on the first call of the returned function instead of now.
 * Compiling every route's schemas (Ajv for the request parts,
 * fast-json-stringify for the responses) was about 40% of the start-up's CPU
 * (BENCHMARKS.md), for routes most processes never serve; a route's first
 * request pays its own few milliseconds instead. The compiled function's
 * `errors` (Ajv's report, read by Fastify after a refusal) are copied over.
 */
export function compiledOnFirstUse<F extends (data: unknown) => unknown>(compile: () => F, pending: PendingCompiles): F {
  let compiled: F | undefined;
  const ensure = () => {
    if (compiled === undefined) {
      compiled = compile();
      pending.pending.delete(ensure);
    }
    return compiled;
  };
  pending.pending.add(ensure);
  const lazy = ((data: unknown) => {
    const fn = ensure();
    const result = fn(data);
    (lazy as { errors?: unknown }).errors = (fn as { errors?: unknown }).errors;
    return result;
  }) as F;
  return lazy;
}

/**
 * Bodies are validated strictly (no coercion, no silent stripping of unknown
 * fields, every violation reported); query strings and path params are
 * coerced from their string form. Installed as the compilers factory so that
 * every plugin context, including ones that add schemas, uses it. The two Ajv
 * instances (each compiling its meta-schema for the shared schemas it is
 * given) are made on the first compile, and each route's validator on its
 * first request (compiledOnFirstUse).
 */
export const validatorFactory = (pending: PendingCompiles): ValidatorFactory => ((externalSchemas: Record<string, unknown> | undefined): RouteCompile => {
  let ajvs: { body: Ajv; params: Ajv } | undefined;
  const instances = () => {
    if (ajvs) return ajvs;
    const body = addFormats(new Ajv({ allErrors: true, removeAdditional: false, useDefaults: false, coerceTypes: false, strict: false }));
    const params = addFormats(new Ajv({ allErrors: false, removeAdditional: false, useDefaults: true, coerceTypes: "array", strict: false }));
    for (const schema of Object.values(externalSchemas ?? {})) {
      body.addSchema(schema as object);
      params.addSchema(schema as object);
    }
    return (ajvs = { body, params });
  };
  return ({ schema, httpPart }) => compiledOnFirstUse(() => refusingUnstorable(instances()[httpPart === "body" ? "body" : "params"].compile(schema)), pending);
}) as unknown as ValidatorFactory;

/**
 * A character PostgreSQL cannot store: U+0000 (text and jsonb refuse it) and
 * a lone UTF-16 surrogate (jsonb refuses its escape; text would silently hold
 * U+FFFD instead). Without the `u` flag the pattern sees code units, so a
 * surrogate pair (an emoji) is two units that match neither alternative.
 */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A string carrying an unstorable character would reach the database only to
 * fail there. Every validated part of a request (body, query string, path
 * params) is refused up front instead, as an ordinary validation error the
 * surface puts in its own shape, naming the field.
 */
function refusingUnstorable(validate: ValidateFunction): ValidateFunction {
  const guarded = ((data: unknown) => {
    const at = hasUnstorable(data) ? unstorablePath(data) : null;
    if (at !== null) {
      guarded.errors = [{ instancePath: at.path, schemaPath: "#/unstorable", keyword: "unstorable", params: {}, message: at.message }];
      return false;
    }
    const ok = validate(data);
    guarded.errors = validate.errors;
    return ok;
  }) as ValidateFunction;
  return guarded;
}

/** Whether any string (value or key) holds an unstorable character: the cheap check every request pays. */
function hasUnstorable(root: unknown): boolean {
  if (typeof root === "string") return UNSTORABLE.test(root);
  if (root === null || typeof root !== "object") return false;
  const pending: object[] = [root];
  while (pending.length > 0) {
    const value = pending.pop()!;
    for (const key in value) {
      if (UNSTORABLE.test(key)) return true;
      const item = (value as Record<string, unknown>)[key];
      if (typeof item === "string") {
        if (UNSTORABLE.test(item)) return true;
      } else if (item !== null && typeof item === "object") pending.push(item);
    }
  }
  return false;
}

function unstorableMessage(text: string): string {
  return text.includes("\u0000") ? "must not contain the NUL character (\\u0000)" : "must be valid Unicode: it holds a lone surrogate (\\ud800–\\udfff without its pair)";
}

/**
 * The JSON pointer of the first string (value or key) holding an unstorable
 * character, and what is wrong with it; null if there is none. Iterative, so
 * a body nested thousands of levels deep cannot overflow the stack.
 */
export function unstorablePath(root: unknown): { path: string; message: string } | null {
  const pending: Array<[unknown, string]> = [[root, ""]];
  while (pending.length > 0) {
    const [value, path] = pending.pop()!;
    if (typeof value === "string") {
      if (UNSTORABLE.test(value)) return { path, message: unstorableMessage(value) };
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) pending.push([value[i], `${path}/${i}`]);
    } else if (value !== null && typeof value === "object") {
      for (const [key, item] of Object.entries(value)) {
        const here = `${path}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;
        if (UNSTORABLE.test(key)) return { path: here, message: unstorableMessage(key) };
        pending.push([item, here]);
      }
    }
  }
  return null;
}
