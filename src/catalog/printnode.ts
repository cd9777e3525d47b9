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
};
