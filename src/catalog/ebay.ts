import { Type } from "@sinclair/typebox";
import { configObject, type ConnectorDefinition } from "./definition.ts";

export const ebay: ConnectorDefinition = {
  type: "ebay",
  name: "eBay",
  category: "commerce",
  authMode: "A",
  configSchema: configObject({
    marketplace_id: Type.String({ pattern: "^EBAY_[A-Z]{2,3}$" }),
    fulfillment_policy_id: Type.String({ maxLength: 64 }),
  }),
  credentialKeys: ["client_id", "client_secret", "refresh_token"],
  requiredCredentialKeys: ["client_id", "client_secret", "refresh_token"],
  requiredFields: ["seller_id"],
  isShop: true,
  docsUrl: "https://developer.ebay.com/develop/apis",
};
