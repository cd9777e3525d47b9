import { Type, type Static } from "@sinclair/typebox";
import { StringEnum } from "../kernel/schema-types.ts";
import { catalog, CONNECTOR_TYPES, type ConnectorType } from "./index.ts";
import type { ConnectorDefinition } from "./definition.ts";

/** One connector type as GET /v1/integrations/catalog lists it: the schema, and the type derived from it. */
export const CatalogEntrySchema = Type.Object({
  connector_type: StringEnum(CONNECTOR_TYPES),
  name: Type.String(),
  category: Type.String(),
  auth_mode: StringEnum(["A", "B"] as const, { description: "A: config + API-key credentials; B: OAuth" }),
  config_schema: Type.Object({}, { additionalProperties: true, description: "JSON Schema of config" }),
  credential_keys: Type.Array(Type.String()),
  required_credential_keys: Type.Array(Type.String()),
  required_fields: Type.Array(Type.String()),
  is_shop: Type.Boolean(),
  docs_url: Type.String(),
});

export type CatalogEntry = Static<typeof CatalogEntrySchema>;

/** The catalog's public projection of one definition. */
export function toCatalogEntry(d: ConnectorDefinition): CatalogEntry {
  return {
    connector_type: d.type as ConnectorType,
    name: d.name,
    category: d.category,
    auth_mode: d.authMode,
    config_schema: d.configSchema,
    credential_keys: [...d.credentialKeys],
    required_credential_keys: [...d.requiredCredentialKeys],
    required_fields: [...d.requiredFields],
    is_shop: d.isShop,
    docs_url: d.docsUrl,
  };
}

let entries: readonly CatalogEntry[] | undefined;

/** Every connector type, in the seeds' order, as the catalog endpoint lists them: built once (the catalog is code). */
export function catalogEntries(): readonly CatalogEntry[] {
  entries ??= Object.freeze(catalog.map(toCatalogEntry));
  return entries;
}
