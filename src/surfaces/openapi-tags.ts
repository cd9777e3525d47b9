/** The OpenAPI document's tags: one per group of operations, each described (generated clients and docs group by them). */
export const OPENAPI_TAGS = [
  { name: "integrations", description: "Connectors on /v1/integrations: create, read, update, pause, resume, disconnect, restore, credentials and verification (entity API key)." },
  { name: "audit", description: "The audit log of an entity's changes: who changed what, when (entity API key; the admin API for any entity)." },
  { name: "request logs", description: "The API request log: every request of the entity's keys, method, path, status, latency, client address, key and mode (entity API key, scope request_logs:read; the admin API for any entity)." },
  { name: "webhooks", description: "Webhook endpoints, their signing secrets and their deliveries (entity API key)." },
  { name: "connections", description: "Customer connections to retailers on /connections, the hosted link page and connection tokens (x-api-key, connection token)." },
  { name: "shop integrations", description: "Shop integrations on /api/v3/integrations, JSON:API shaped (Basic auth: public key and API key)." },
  { name: "admin", description: "The admin API on /admin/v1: entities, API keys, audit, the vault (admin token)." },
  { name: "Operations", description: "Probes (/livez, /readyz, /healthz) and Prometheus metrics (/metrics) for whoever runs Patchbay." },
];
