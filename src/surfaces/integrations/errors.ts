import type { Advice } from "../../kernel/advice.ts";

/** The /v1 and /admin/v1 wording of a service's advice: the routes a client of this surface can call. */
export function v1Hint(a: Advice): string {
  switch (a.to) {
    case "create_connector":
      return `Create one with POST /v1/integrations/${a.connector_type}.`;
    case "show_connector":
      return `GET /v1/integrations/${a.connector_type} shows it.`;
    case "restore_connector":
      if (a.before) return `Restore it with POST /v1/integrations/${a.connector_type} before ${a.before}.`;
      return a.then_send_again ? `Restore it with POST /v1/integrations/${a.connector_type}, then send the request again.` : `Restore it with POST /v1/integrations/${a.connector_type} first.`;
    case "resume_connector":
      return `Resume it with PATCH /v1/integrations/${a.connector_type} {"is_active": true}.`;
    case "change_or_delete_connector":
      return `Change it with PATCH /v1/integrations/${a.connector_type}, or DELETE it first.`;
    case "start_oauth":
      return `POST /v1/integrations/${a.connector_type} with {"shop": …} answers the oauth_url to open.`;
    case "send_secrets_separately":
      return "Secrets are write-only: send them with PUT /v1/integrations/{connector_type}/credentials.";
    case "store_credentials":
      return `Store them${a.first ? " first" : ""} with PUT /v1/integrations/${a.connector_type}/credentials.`;
    case "check_credentials":
      return `Check the stored credentials (PUT /v1/integrations/${a.connector_type}/credentials, then POST /v1/integrations/${a.connector_type}/verify).`;
    case "see_token_calls":
      return `Try again shortly; GET /v1/integrations/${a.connector_type}/logs shows the token calls.`;
    case "see_catalog_credential_keys":
      return "See credential_keys in GET /v1/integrations/catalog.";
    case "connect_shop":
      return a.then_approve ? 'Connect the shop first: POST /v1/integrations/shopify with {"shop": …}, then approve the app.' : "Connect the shop first: POST /v1/integrations/shopify.";
    case "restart_oauth":
      if (a.reason === "follow_new_url") return "Start again with POST /v1/integrations/shopify and follow the new oauth_url.";
      if (a.reason === "code_spent") return "Codes work once and expire quickly; start again with POST /v1/integrations/shopify.";
      return "Start again with POST /v1/integrations/shopify.";
    case "retry_oauth":
      return "Try again with POST /v1/integrations/shopify in a moment.";
    case "oauth_callback_misuse":
      return "This URL is for Shopify's redirect after a merchant approves the app; start with POST /v1/integrations/shopify.";
    case "copy_inbound_webhook_url":
      return "Copy inbound_webhook_url from GET /v1/integrations/{connector_type}.";
    case "list_webhook_endpoints":
      return "List the entity's endpoints with GET /v1/webhook_endpoints.";
    case "list_webhook_deliveries":
      return "List them with GET /v1/webhook_endpoints/{id}/deliveries.";
    case "list_entities":
      return "List entities with GET /admin/v1/entities.";
  }
}
