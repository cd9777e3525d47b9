import { Type } from "@sinclair/typebox";
import { configObject, type ConnectorDefinition } from "./definition.ts";

export const printnode: ConnectorDefinition = {
  type: "printnode",
  name: "PrintNode",
  category: "printing",
  authMode: "A",
  configSchema: configObject({
    default_printer_id: Type.Integer({ minimum: 1 }),
    label_printer_id: Type.Integer({ minimum: 1 }),
    copies: Type.Integer({ minimum: 1, maximum: 99 }),
  }),
  credentialKeys: ["api_key"],
  requiredCredentialKeys: ["api_key"],
  requiredFields: [],
  isShop: false,
  docsUrl: "https://www.printnode.com/en/docs/api/curl",
  baseUrls: { live: "https://api.printnode.com" },
  authRecipe: {
    scheme: "headers",
    headers: {},
    basic: { userKey: "api_key" },
    source: "https://www.printnode.com/en/docs/api/curl#authentication (HTTP Basic, the API key as user name, empty password)",
  },
  inboundWebhooks: { scheme: "url_token", source: "PrintNode has no webhooks of its own (https://www.printnode.com/en/docs/api/curl)" },
};
