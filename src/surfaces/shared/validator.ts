import { Ajv } from "ajv";
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
  return ({ schema, httpPart }) => (httpPart === "body" ? body : params).compile(schema);
}) as unknown as ValidatorFactory;
