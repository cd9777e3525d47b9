/**
 * What a client can do about an error, as facts without a URL: services put
 * one on a domain error; each surface words it for its own routes (the /v1
 * wording lives in surfaces/integrations/errors.ts). A surface that has no
 * route for the advice gives no hint.
 */
export type Advice =
  | { to: "create_connector"; connector_type: string }
  | { to: "show_connector"; connector_type: string }
  /** `before`: the end of the recovery window (ISO); `then_send_again`: the request was a proxied one. */
  | { to: "restore_connector"; connector_type: string; before?: string; then_send_again?: boolean }
  | { to: "resume_connector"; connector_type: string }
  | { to: "change_or_delete_connector"; connector_type: string }
  | { to: "start_oauth"; connector_type: string }
  | { to: "send_secrets_separately" }
  | { to: "store_credentials"; connector_type: string; first?: boolean }
  | { to: "check_credentials"; connector_type: string }
  | { to: "see_token_calls"; connector_type: string }
  | { to: "see_catalog_credential_keys" }
  /** `then_approve`: the connector exists; the merchant still has to approve the app. */
  | { to: "connect_shop"; then_approve?: boolean }
  | { to: "restart_oauth"; reason?: "follow_new_url" | "code_spent" }
  | { to: "retry_oauth" }
  | { to: "oauth_callback_misuse" }
  | { to: "copy_inbound_webhook_url" }
  | { to: "list_webhook_endpoints" }
  | { to: "list_webhook_deliveries" }
  | { to: "list_entities" };

/** A surface's wording of advice; undefined when the surface has no route for it. */
export type AdviceWording = (advice: Advice) => string | undefined;
