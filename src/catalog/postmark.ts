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
  baseUrls: { live: "https://api.postmarkapp.com" },
  authRecipe: {
    scheme: "headers",
    headers: { "x-postmark-server-token": "{server_token}" },
    source: "https://postmarkapp.com/developer/api/overview#authentication (X-Postmark-Server-Token)",
  },
  inboundWebhooks: { scheme: "basic_auth", source: "https://postmarkapp.com/developer/webhooks/webhooks-overview#protecting-your-webhook (basic auth credentials on the webhook URL)" },
};
