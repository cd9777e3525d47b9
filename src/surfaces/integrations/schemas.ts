import { Type } from "@sinclair/typebox";
import { CONNECTOR_TYPES } from "../../catalog/index.ts";
import { FLAT_ERROR_SCHEMA_ID } from "../shared/flat-errors.ts";
import { ListOf, PageQuery, pageQueryFields } from "../shared/list-page.ts";
import { Nullable, StringEnum, Timestamp, Uuid } from "../shared/schema-types.ts";
import { ConnectorRowSchema } from "../../services/connector-row.ts";
import { CatalogEntrySchema } from "../../catalog/entry.ts";

export const ConnectorTypeParams = Type.Object({
  connector_type: StringEnum(CONNECTOR_TYPES, { description: "Connector type." }),
});

export const Mode = StringEnum(["sandbox", "live"] as const);

const shipFrom = {
  ship_from_name: Type.String({ minLength: 1, maxLength: 200 }),
  ship_from_address1: Type.String({ minLength: 1, maxLength: 200 }),
  ship_from_city: Type.String({ minLength: 1, maxLength: 100 }),
  ship_from_state: Type.String({ minLength: 1, maxLength: 100 }),
  ship_from_zip: Type.String({ minLength: 1, maxLength: 20 }),
};

const editable = {
  display_name: Type.String({ minLength: 1, maxLength: 200 }),
  mode: Mode,
  config: Type.Object({}, { additionalProperties: true, description: "Provider-specific configuration; see GET /v1/integrations/catalog." }),
  ...shipFrom,
  seller_id: Type.String({ minLength: 1, maxLength: 64, description: "Amazon/eBay marketplace seller ID" }),
  bank_account_id: Type.String({ format: "uuid", description: "Plaid: bank account UUID to link" }),
};

export const CreateConnectorBody = Type.Partial(
  Type.Object(
    {
      ...editable,
      // Checked by the Shopify service, so every bad domain gets the same 422 with param "shop" (seed 001).
      shop: Type.String({ description: "Shopify only: merchant myshopify.com domain (e.g. mystore.myshopify.com)" }),
    },
    { additionalProperties: false },
  ),
  { additionalProperties: false },
);

export const UpdateConnectorBody = Type.Partial(
  Type.Object(
    {
      ...editable,
      is_active: Type.Boolean(),
      config: Type.Object({}, { additionalProperties: true, description: "Merged into the stored config (RFC 7396): nested objects merge, null removes a key, arrays replace." }),
    },
    { additionalProperties: false },
  ),
  { additionalProperties: false },
);

export const CredentialsBody = Type.Record(
  Type.String(),
  Type.String({ minLength: 1, maxLength: 16384 }),
  {
    maxProperties: 32,
    description:
      "The connector's credentials as key → string value; the accepted keys are the type's credential_keys in GET /v1/integrations/catalog, " +
      "and every key in required_credential_keys must be present. Replaces whatever was stored. Values are sealed and never returned.",
    examples: [{ secret_key: "sk_live_…", publishable_key: "pk_live_…" }],
  },
);

export const WebhookSecretBody = Type.Object(
  { webhook_secret: Type.String({ minLength: 1, maxLength: 4096, description: "The provider's webhook signing secret. Sealed; never returned." }) },
  { additionalProperties: false },
);

/** The connector row's schema is the service's (services/connector-row.ts): its type is derived from it. */
export { ConnectorRowSchema };

export const ConnectorEnvelope = Type.Object({ data: Type.Ref("ConnectorRow") });

export const OAuthRequired = Type.Object({
  object: Type.Literal("integration_oauth_required"),
  oauth_url: Type.String({ format: "uri" }),
  expires_at: Timestamp,
  hint: Type.String(),
});

export const ListQuery = PageQuery("A connector id");

export const ConnectorList = ListOf(Type.Ref("ConnectorRow"));

export const CatalogEntry = CatalogEntrySchema;

export const CatalogList = ListOf(CatalogEntry);

/** The catalog's cursors are connector types, not uuids. */
export const CatalogQuery = Type.Object(
  {
    ...pageQueryFields(),
    starting_after: Type.Optional(StringEnum(CONNECTOR_TYPES, { description: "A connector type: the entries after it, exclusive." })),
    ending_before: Type.Optional(StringEnum(CONNECTOR_TYPES, { description: "A connector type: the entries before it, exclusive. Not together with starting_after (400)." })),
  },
  { additionalProperties: false },
);

/** Every error status a route can answer, pointing at the one error schema. */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(statuses.map((s) => [s, Type.Ref(FLAT_ERROR_SCHEMA_ID)]));
}
