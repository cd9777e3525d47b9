import { Type, type TObject } from "@sinclair/typebox";

/**
 * What Patchbay knows about one connector type: how it authenticates, which
 * config it accepts, which credential keys it stores, which row fields it needs.
 */
export interface ConnectorDefinition {
  type: string;
  name: string;
  category: "payments" | "tax" | "shipping" | "printing" | "email" | "commerce" | "maps" | "ai" | "banking";
  /** A: config + API-key credentials written through PUT …/credentials. B: OAuth. */
  authMode: "A" | "B";
  /** JSON Schema of `config`; validated on POST and after every PATCH merge. */
  configSchema: TObject;
  /** Key names PUT …/credentials accepts; the values are sealed, the names are shown. */
  credentialKeys: readonly string[];
  /** Credential keys that must all be present in a PUT. */
  requiredCredentialKeys: readonly string[];
  /** Row fields a POST must carry and a PATCH must not clear. */
  requiredFields: readonly RequiredField[];
  /** Shop-type connectors are also shop integrations (/api/v3/integrations). */
  isShop: boolean;
  docsUrl: string;
}

export type RequiredField =
  | "ship_from_name"
  | "ship_from_address1"
  | "ship_from_city"
  | "ship_from_state"
  | "ship_from_zip"
  | "seller_id"
  | "bank_account_id";

export const SHIP_FROM_FIELDS: readonly RequiredField[] = [
  "ship_from_name",
  "ship_from_address1",
  "ship_from_city",
  "ship_from_state",
  "ship_from_zip",
];

/** A config object: only the listed keys, each optional. */
export function configObject(properties: Parameters<typeof Type.Object>[0]): TObject {
  return Type.Object(
    Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, Type.Optional(v)])),
    { additionalProperties: false },
  );
}

export const webhookUrl = Type.String({ format: "uri", maxLength: 2048 });
