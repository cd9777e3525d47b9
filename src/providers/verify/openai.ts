import type { CredentialCheck } from "./check.ts";

/** OpenAI: GET /v1/models with the API key (and the organization/project headers when stored). */
export const openai: CredentialCheck = {
  provider: "openai",
  endpoint: "GET /v1/models",
  request: (c) => ({
    method: "GET",
    path: "/v1/models",
    headers: {
      authorization: `Bearer ${c.api_key}`,
      ...(c.organization_id ? { "openai-organization": c.organization_id } : {}),
      ...(c.project_id ? { "openai-project": c.project_id } : {}),
    },
  }),
};
