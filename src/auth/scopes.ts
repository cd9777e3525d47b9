/** The one scope vocabulary of the whole product. */
export const SCOPES = [
  "integrations:read",
  "integrations:write",
  "integrations:proxy",
  "connections:read",
  "connections:write",
  "webhooks:manage",
  "audit:read",
  "request_logs:read",
] as const;

export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}
