import { Type, type TSchema, type Static } from "@sinclair/typebox";

/** `T | null` as one JSON Schema `type` array: reads well in OpenAPI 3.1 and serializes fast. */
export function Nullable<T extends TSchema>(schema: T) {
  const { type, ...rest } = schema as unknown as { type: string } & Record<string, unknown>;
  return Type.Unsafe<Static<T> | null>({ ...rest, type: [type, "null"] });
}

/** A string enum as a plain JSON Schema `enum` (one line in the OpenAPI document, not an anyOf). */
export function StringEnum<const T extends readonly string[]>(values: T, options: Record<string, unknown> = {}) {
  return Type.Unsafe<T[number]>({ type: "string", enum: [...values], ...options });
}

export const Timestamp = Type.String({ format: "date-time", description: "RFC 3339, UTC" });
export const Uuid = Type.String({ format: "uuid" });
