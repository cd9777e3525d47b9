import { Type } from "@sinclair/typebox";
import { configObject, type ConnectorDefinition } from "./definition.ts";

export const openai: ConnectorDefinition = {
  type: "openai",
  name: "OpenAI",
  category: "ai",
  authMode: "A",
  configSchema: configObject({
    model: Type.String({ minLength: 1, maxLength: 100 }),
    max_output_tokens: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    temperature: Type.Number({ minimum: 0, maximum: 2 }),
  }),
  credentialKeys: ["api_key", "organization_id", "project_id"],
  requiredCredentialKeys: ["api_key"],
  requiredFields: [],
  isShop: false,
  docsUrl: "https://platform.openai.com/docs/api-reference",
  baseUrls: { live: "https://api.openai.com" },
  authRecipe: {
    scheme: "headers",
    headers: { authorization: "Bearer {api_key}" },
    optional: { "openai-organization": "{organization_id}", "openai-project": "{project_id}" },
    source: "https://platform.openai.com/docs/api-reference/authentication (Bearer; OpenAI-Organization, OpenAI-Project)",
  },
  inboundWebhooks: { scheme: "url_token", source: "https://platform.openai.com/docs/guides/webhooks (Standard Webhooks signatures are not checked yet; the URL token authenticates)" },
};
