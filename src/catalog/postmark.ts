import { Type } from "@sinclair/typebox";
import { configObject, type ConnectorDefinition } from "./definition.ts";

export const postmark: ConnectorDefinition = {
  type: "postmark",
  name: "Postmark",
  category: "email",
  authMode: "A",
  configSchema: configObject({
    from_email: Type.String({ format: "email", maxLength: 254 }),
    message_stream: Type.String({ minLength: 1, maxLength: 100 }),
    track_opens: Type.Boolean(),
  }),
  credentialKeys: ["server_token"],
  requiredCredentialKeys: ["server_token"],
  requiredFields: [],
  isShop: false,
  docsUrl: "https://postmarkapp.com/developer",
};
