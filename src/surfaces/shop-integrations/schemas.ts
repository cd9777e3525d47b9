import { Type } from "@sinclair/typebox";
import { CARRIER_CODES, DEFAULT_SORT, FEEDBACK_TYPES, SHOP_TYPES, SORT_FIELDS } from "../../services/shop-integrations.ts";
import { LOG_PAGE_SIZE_DEFAULT, LOG_PAGE_SIZE_MAX } from "../../services/integration-logs.ts";
import { Nullable, StringEnum, Timestamp } from "../shared/schema-types.ts";

export const SHOP_INTEGRATION_SCHEMA_ID = "ShopIntegration";
export const INTEGRATION_LOG_SCHEMA_ID = "IntegrationLog";
export const JSON_API_ERRORS_SCHEMA_ID = "JsonApiErrors";

const HttpUrl = (description: string) => Type.String({ format: "uri", pattern: "^[Hh][Tt][Tt][Pp][Ss]?://", minLength: 1, maxLength: 2048, description });

export const IntegrationIdParams = Type.Object({
  id: Type.Integer({ minimum: 1, description: "The integration's id." }),
});

export const ListQuery = Type.Object(
  {
    sort: Type.Optional(
      Type.String({
        maxLength: 200,
        description: `Comma-separated fields from ${SORT_FIELDS.join(", ")}; "-" in front for descending. Default ${DEFAULT_SORT}. Unset values sort last.`,
      }),
    ),
  },
  { additionalProperties: false },
);

/** PATCH body (seed 004). Rules that span fields are checked by the service against the merged record. */
export const UpdateIntegrationBody = Type.Partial(
  Type.Object(
    {
      shop_name: Type.String({ minLength: 1, maxLength: 250, description: "Name of the shop (the connector's display_name)." }),
      shop_url: HttpUrl("URL of the shop the integration connects to."),
      service_point_enabled: Type.Boolean({ description: "Delivery to service points; needs at least one carrier." }),
      service_point_carriers: Type.Array(StringEnum(CARRIER_CODES), {
        uniqueItems: true,
        maxItems: CARRIER_CODES.length,
        description: "Carriers for the service point picker.",
      }),
      webhook_active: Type.Boolean({ description: "Send parcel updates to webhook_url; needs a webhook_url." }),
      webhook_url: Nullable(HttpUrl("URL for parcel updates, or null.")),
      feedback_type: StringEnum(FEEDBACK_TYPES, { description: "eager: sent on label creation; delayed: sent on carrier scan; none: no feedback." }),
    },
    { additionalProperties: false },
  ),
  { additionalProperties: false },
);

/**
 * What each body field (and the id parameter) must be, as an error's detail
 * says it: one sentence per field rather than the validator's wording per keyword.
 */
export const FIELD_RULES: Record<string, string> = {
  shop_name: "shop_name must be a string of 1 to 250 characters",
  shop_url: "shop_url must be an absolute http(s) URL of at most 2048 characters",
  service_point_enabled: "service_point_enabled must be true or false",
  service_point_carriers: `service_point_carriers must be a list of distinct known carrier codes: ${CARRIER_CODES.join(", ")}`,
  webhook_active: "webhook_active must be true or false",
  webhook_url: "webhook_url must be an absolute http(s) URL of at most 2048 characters, or null",
  feedback_type: `feedback_type must be one of ${FEEDBACK_TYPES.join(", ")}`,
  id: "The integration id must be an integer of at least 1",
};

export const ShopIntegrationSchema = Type.Object(
  {
    id: Type.Integer({ minimum: 1 }),
    shop_name: Type.String(),
    shop_url: Nullable(Type.String()),
    type: StringEnum(SHOP_TYPES),
    service_point_enabled: Type.Boolean(),
    service_point_carriers: Type.Array(Type.String()),
    webhook_active: Type.Boolean(),
    webhook_url: Nullable(Type.String()),
    feedback_type: StringEnum(FEEDBACK_TYPES),
    started_failing_at: Nullable(Timestamp),
    last_fetched_at: Nullable(Timestamp),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: SHOP_INTEGRATION_SCHEMA_ID, description: "A shop-type connector (shopify, amazon, ebay) as shipping software sees it." },
);

export const IntegrationEnvelope = Type.Object({ data: Type.Ref(SHOP_INTEGRATION_SCHEMA_ID) });
export const IntegrationList = Type.Object({ data: Type.Array(Type.Ref(SHOP_INTEGRATION_SCHEMA_ID)) });

export const JsonApiErrorsSchema = Type.Object(
  {
    errors: Type.Array(
      Type.Object({
        id: Type.Optional(Type.String({ description: "A unique identifier for the error: the request id (x-request-id), suffixed -1, -2, … when there are several." })),
        links: Type.Optional(
          Type.Object(
            { about: Type.String({ format: "uri", description: "The operation's page in the reference Patchbay follows (sendcloud.dev/api/v3/integrations/…)." }) },
            { description: "Links about the error." },
          ),
        ),
        status: Type.String({ minLength: 1, description: "The HTTP status, as a string (the spec's ErrorObject: type string, format int32)." }),
        code: Type.String({
          minLength: 1,
          description:
            "Snake case. Validation: unknown_field, extra_forbidden, required, min_value, invalid_choice, not_a_list, null, non_field_errors, validation_error, invalid. " +
            "Others: authentication_failed, not_found, insufficient_scope, live_mode_forbidden, idempotency_*, rate_limited, body_too_large, unsupported_media_type, service_unavailable.",
        }),
        title: Type.String({ minLength: 1 }),
        detail: Type.String({ minLength: 1 }),
        source: Type.Optional(
          Type.Object({
            pointer: Type.Optional(Type.String({ description: "Where in the body: a JSON Pointer (/webhook_url), or body/<field> on POST …/logs as the spec's example has it." })),
            parameter: Type.Optional(Type.String({ description: "The path or query parameter, e.g. sort, page_size" })),
            header: Type.Optional(Type.String({ description: "The request header, e.g. Authorization, Idempotency-Key" })),
          }),
        ),
        meta: Type.Optional(
          Type.Object({}, { additionalProperties: true, description: "What a client can act on: min_value, max_value, choices, retry_after, required_scope." }),
        ),
      }),
    ),
  },
  { $id: JSON_API_ERRORS_SCHEMA_ID, description: "JSON:API error document: every violated rule, not only the first." },
);

export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(statuses.map((s) => [s, Type.Ref(JSON_API_ERRORS_SCHEMA_ID)]));
}

// ---- Exception logs (Sendcloud v3 integrations API: /integrations/logs, /integrations/{id}/logs) ----

const LogResponse = Type.Unsafe<{ headers?: Record<string, unknown> | null; body?: Record<string, unknown> | string | null } | null>({
  type: ["object", "null"],
  additionalProperties: true,
  description: "The shop's answer: headers and body.",
  properties: {
    headers: { type: ["object", "null"], additionalProperties: true, description: "HTTP headers of the response." },
    body: { type: ["string", "object", "null"], additionalProperties: true, description: "HTTP response body." },
  },
});
const LogRequest = Type.Unsafe<{ headers?: Record<string, unknown> | string | null; payload?: Record<string, unknown> | string | null } | null>({
  type: ["object", "null"],
  additionalProperties: true,
  description: "The request made to the shop: headers and payload.",
  properties: {
    headers: { type: ["object", "string", "null"], additionalProperties: true, description: "HTTP headers of the request." },
    payload: { type: ["object", "string", "null"], additionalProperties: true, description: "HTTP request body." },
  },
});

export const IntegrationLogSchema = Type.Object(
  {
    id: Type.Integer({ minimum: 1, description: "ID of the log record." }),
    integration_id: Nullable(Type.Integer({ minimum: 1, description: "The integration the entry belongs to." })),
    base_url: Type.String({ minLength: 1, description: "Base shop URL." }),
    full_url: Nullable(Type.String({ description: "Full URL of the resource where the error happened." })),
    method: Type.String({ description: "HTTP method of the failed request ('' when not given)." }),
    response_code: Nullable(Type.Integer({ minimum: 0, description: "HTTP status of the answer; null when none came." })),
    response: LogResponse,
    request: LogRequest,
    created_at: Type.String({ format: "date-time", description: "When the exception occurred (RFC 3339, UTC). The pagination cursor." }),
    exception_type: Nullable(Type.String({ description: "Machine-readable kind, e.g. patchbay.provider.timeout, patchbay.provider.http_error, patchbay.webhook.failed, or what shipping software sent." })),
    exception: Nullable(Type.String({ description: "Human-readable description of the exception." })),
    protected: Type.Boolean({ description: "True when the request/response is obfuscated: Patchbay's own entries replace secret header values with [redacted] and keep no request payload." }),
    additional_data: Type.Unsafe<Record<string, unknown> | string>({ type: ["object", "string"], additionalProperties: true, description: "Patchbay's own entries: purpose, connector_type, latency_ms, request_id. '' otherwise." }),
  },
  { $id: INTEGRATION_LOG_SCHEMA_ID, description: "An integration exception log record (Sendcloud v3 integrations API, integration-log)." },
);

export const LogsQuery = Type.Object(
  {
    cursor: Type.Optional(Type.String({ format: "date-time", description: "From the Link header's next URL: entries strictly older than this instant." })),
    page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: LOG_PAGE_SIZE_MAX, default: LOG_PAGE_SIZE_DEFAULT, description: "Number of results per page." })),
  },
  { additionalProperties: false },
);

export const LogIdParams = IntegrationIdParams;

export const CreateLogBody = Type.Object(
  {
    base_url: Type.String({ minLength: 1, maxLength: 2048, description: "Base shop URL." }),
    full_url: Type.Optional(Nullable(Type.String({ maxLength: 4096, description: "Full URL of the resource where the error happened." }))),
    method: Type.Optional(Nullable(Type.String({ maxLength: 16, description: "HTTP method that caused the error (default '')." }))),
    response_code: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 999, description: "HTTP status of the answer." }))),
    response: Type.Optional(LogResponse),
    request: Type.Optional(LogRequest),
    created_at: Type.Optional(Nullable(Type.String({ format: "date-time", description: "When the exception occurred; now when not given." }))),
    exception_type: Type.Optional(Nullable(Type.String({ maxLength: 255, description: "Machine-readable exception kind." }))),
    exception: Type.Optional(Nullable(Type.String({ maxLength: 10_000, description: "Human-readable description of the exception." }))),
  },
  { additionalProperties: false, description: "integration-log-create: base_url is required; any other field is refused (extra_forbidden)." },
);

export const LogEnvelope = Type.Object({ data: Type.Ref(INTEGRATION_LOG_SCHEMA_ID) });
export const LogList = Type.Object({ data: Type.Array(Type.Ref(INTEGRATION_LOG_SCHEMA_ID)) });
