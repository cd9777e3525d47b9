import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import type { FastifyServerOptions } from "fastify";

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

type ValidatorFactory = NonNullable<NonNullable<NonNullable<FastifyServerOptions["schemaController"]>["compilersFactory"]>["buildValidator"]>;
type RouteCompile = (route: { schema: object; httpPart?: string }) => unknown;

/**
 * Bodies are validated strictly (no coercion, no silent stripping of unknown
 * fields, every violation reported); query strings and path params are
 * coerced from their string form. Installed as the compilers factory so that
 * every plugin context, including ones that add schemas, uses it.
 */
export const buildValidator = ((externalSchemas: Record<string, unknown> | undefined): RouteCompile => {
  const body = addFormats(new Ajv({ allErrors: true, removeAdditional: false, useDefaults: false, coerceTypes: false, strict: false }));
  const params = addFormats(new Ajv({ allErrors: false, removeAdditional: false, useDefaults: true, coerceTypes: "array", strict: false }));
  for (const schema of Object.values(externalSchemas ?? {})) {
    body.addSchema(schema as object);
    params.addSchema(schema as object);
  }
  return ({ schema, httpPart }) => refusingNul((httpPart === "body" ? body : params).compile(schema));
}) as unknown as ValidatorFactory;

/**
 * PostgreSQL text and jsonb cannot hold U+0000, so a string carrying one
 * would reach the database only to fail there. Every validated part of a
 * request (body, query string, path params) is refused up front instead,
 * as an ordinary validation error the surface puts in its own shape.
 */
function refusingNul(validate: ValidateFunction): ValidateFunction {
  const guarded = ((data: unknown) => {
    const at = hasNul(data) ? nulPath(data) : null;
    if (at !== null) {
      guarded.errors = [
        { instancePath: at, schemaPath: "#/nul", keyword: "nul", params: {}, message: "must not contain the NUL character (\\u0000)" },
      ];
      return false;
    }
    const ok = validate(data);
    guarded.errors = validate.errors;
    return ok;
  }) as ValidateFunction;
  return guarded;
}

/** Whether any string (value or key) holds U+0000: the cheap check every request pays. */
function hasNul(root: unknown): boolean {
  if (typeof root === "string") return root.includes("\u0000");
  if (root === null || typeof root !== "object") return false;
  const pending: object[] = [root];
  while (pending.length > 0) {
    const value = pending.pop()!;
    for (const key in value) {
      if (key.includes("\u0000")) return true;
      const item = (value as Record<string, unknown>)[key];
      if (typeof item === "string") {
        if (item.includes("\u0000")) return true;
      } else if (item !== null && typeof item === "object") pending.push(item);
    }
  }
  return false;
}

/**
 * The JSON pointer of the first string (value or key) holding U+0000, or null.
 * Iterative, so a body nested thousands of levels deep cannot overflow the stack.
 */
export function nulPath(root: unknown): string | null {
  const pending: Array<[unknown, string]> = [[root, ""]];
  while (pending.length > 0) {
    const [value, path] = pending.pop()!;
    if (typeof value === "string") {
      if (value.includes("\u0000")) return path;
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) pending.push([value[i], `${path}/${i}`]);
    } else if (value !== null && typeof value === "object") {
      for (const [key, item] of Object.entries(value)) {
        const here = `${path}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;
        if (key.includes("\u0000")) return here;
        pending.push([item, here]);
      }
    }
  }
  return null;
}
