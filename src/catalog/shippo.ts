import { Type } from "@sinclair/typebox";
import { configObject, SHIP_FROM_FIELDS, type ConnectorDefinition } from "./definition.ts";

export const shippo: ConnectorDefinition = {
  type: "shippo",
  name: "Shippo",
  category: "shipping",
  authMode: "A",
  configSchema: configObject({
    default_carrier: Type.String({ maxLength: 50 }),
    label_file_type: Type.Union([Type.Literal("PDF"), Type.Literal("PDF_4x6"), Type.Literal("PNG"), Type.Literal("ZPLII")]),
  }),
  credentialKeys: ["api_token"],
  requiredCredentialKeys: ["api_token"],
  requiredFields: SHIP_FROM_FIELDS,
  isShop: false,
  docsUrl: "https://docs.goshippo.com/shippoapi/public-api/",
  baseUrls: { live: "https://api.goshippo.com" },
  authRecipe: {
    scheme: "headers",
    headers: { authorization: "ShippoToken {api_token}" },
    source: "https://docs.goshippo.com/docs/guides_general/authentication/ (Authorization: ShippoToken <token>)",
  },
  inboundWebhooks: { scheme: "query_token", source: "https://docs.goshippo.com/docs/tracking/webhooksecurity (self-generated token: register the URL with ?token=<the stored webhook secret>)" },
};
