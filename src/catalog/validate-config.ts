import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import type { Violation } from "../kernel/errors.ts";
import type { ConnectorDefinition } from "./definition.ts";

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ajv = addFormats(new Ajv({ allErrors: true, strict: false }));
const compiled = new Map<string, ValidateFunction>();

function validatorFor(def: ConnectorDefinition): ValidateFunction {
  let fn = compiled.get(def.type);
  if (!fn) {
    fn = ajv.compile(def.configSchema);
    compiled.set(def.type, fn);
  }
  return fn;
}

/** Checks a (merged) config object against the type's schema; [] when valid. */
export function validateConnectorConfig(def: ConnectorDefinition, config: Record<string, unknown>): Violation[] {
  const validate = validatorFor(def);
  if (validate(config)) return [];
  return (validate.errors ?? []).map((e) => toViolation(def, e));
}

function toViolation(def: ConnectorDefinition, e: ErrorObject): Violation {
  const path = e.instancePath.split("/").filter(Boolean);
  if (e.keyword === "additionalProperties") {
    const key = String(e.params.additionalProperty);
    const known = Object.keys(def.configSchema.properties).join(", ");
    return { param: ["config", ...path, key].join("."), message: `config.${[...path, key].join(".")} is not a ${def.type} setting; known settings: ${known}.` };
  }
  const param = ["config", ...path].join(".");
  return { param, message: `${param} ${e.message ?? "is invalid"}.` };
}
