import { ListOf, PageQuery } from "../shared/list-page.ts";
import { Type } from "@sinclair/typebox";
import { EVENT_TYPES } from "../../services/outbox.ts";
import { EVENT_FAMILIES, MAX_METADATA_KEYS, WEBHOOK_API_VERSION } from "../../services/webhook-endpoints.ts";
import { MAX_URL_LENGTH } from "../../providers/webhook-address.ts";
import { Nullable, StringEnum, Timestamp, Uuid } from "../shared/schema-types.ts";

export const EndpointParams = Type.Object({ id: Type.String({ description: "The webhook endpoint id (a UUID)." }) });
export const DeliveryParams = Type.Object({ id: Type.String(), delivery_id: Type.String() });

const EVENT_NAMES = [...EVENT_TYPES, ...EVENT_FAMILIES.map((f) => `${f}.*`), "*"] as const;

const EventSubscription = (description: string) =>
  Type.Array(StringEnum(EVENT_NAMES), {
    minItems: 1,
    maxItems: EVENT_NAMES.length,
    uniqueItems: true,
    description: `${description} Event types, "<family>.*" for a whole family (${EVENT_FAMILIES.map((f) => `${f}.*`).join(", ")}), or ["*"] for all of them: ${EVENT_TYPES.join(", ")}.`,
  });

const Metadata = Type.Record(Type.String({ maxLength: 100 }), Type.Unknown(), { description: `Arbitrary key-value pairs (up to ${MAX_METADATA_KEYS} keys), stored and returned as-is.` });
const Status = StringEnum(["active", "paused", "disabled"] as const, {
  description: "active receives events; paused skips delivery (keeps the subscription; 5 consecutive failed attempts pause an active endpoint); disabled is off.",
});
const Mode = StringEnum(["live", "test"] as const, { description: "live endpoints receive production events; test endpoints receive test-mode (sandbox) events only. Default: the key's mode." });

const endpointFields = {
  url: Type.String({ minLength: 1, maxLength: MAX_URL_LENGTH, description: "An absolute https URL of a public host (http and private hosts only with PATCHBAY_WEBHOOK_ALLOW_PRIVATE=true)." }),
  enabled_events: EventSubscription("The subscription."),
  events: EventSubscription("Deprecated alias of enabled_events: accepted, and ignored when enabled_events is also sent."),
  description: Nullable(Type.String({ maxLength: 500, description: "Human-readable label for this endpoint." })),
  status: Status,
  api_version: Nullable(Type.String({ minLength: 1, maxLength: 40, description: `Pins the API version payloads are serialized in (default ${WEBHOOK_API_VERSION}).` })),
  metadata: Metadata,
};

export const CreateEndpointBody = Type.Object(
  {
    url: endpointFields.url,
    enabled_events: Type.Optional(endpointFields.enabled_events),
    events: Type.Optional(endpointFields.events),
    description: Type.Optional(endpointFields.description),
    status: Type.Optional(endpointFields.status),
    mode: Type.Optional(Mode),
    api_version: Type.Optional(endpointFields.api_version),
    metadata: Type.Optional(endpointFields.metadata),
    send_test_event_on_create: Type.Optional(Type.Boolean({ description: "When true, queues a webhook.test event to this endpoint at once (test_event in the answer)." })),
  },
  { additionalProperties: false },
);

export const UpdateEndpointBody = Type.Partial(Type.Object(endpointFields, { additionalProperties: false }), { additionalProperties: false, minProperties: 1 });

const endpointProperties = {
  id: Uuid,
  object: Type.Literal("webhook_endpoint"),
  entity_id: Uuid,
  url: Type.String(),
  description: Nullable(Type.String()),
  enabled_events: Type.Array(Type.String()),
  secret_last4: Nullable(Type.String({ description: "The last 4 hex characters of the signing secret (null for endpoints created before it was kept)." })),
  status: Status,
  mode: Mode,
  api_version: Nullable(Type.String()),
  success_count: Type.Integer({ description: "Successful delivery attempts (HTTP 2xx)." }),
  failure_count: Type.Integer({ description: "Failed delivery attempts (non-2xx or timeout)." }),
  consecutive_failure_count: Type.Integer({ description: "Consecutive failed attempts since the last success." }),
  last_delivery_at: Nullable(Timestamp),
  created_at: Timestamp,
  updated_at: Timestamp,
  metadata: Type.Record(Type.String(), Type.Unknown()),
};

export const WebhookEndpointSchema = Type.Object(endpointProperties, {
  $id: "WebhookEndpoint",
  description: "Where the entity's events are POSTed (docs.arcuserp.com api-reference/webhooks). The signing secret is never returned, except once by create and rotate_secret.",
});

export const TestEvent = Type.Object({
  event_id: Uuid,
  queued_delivery_id: Uuid,
  status: Type.Literal("queued"),
});

const secret = Type.String({ description: "The signing secret (whsec_…): shown in this answer only. Not kept in the idempotency store: a replay answers without it." });

export const EndpointWithSecret = Type.Object({ ...endpointProperties, secret, test_event: Type.Optional(TestEvent) });

export const RotatedEndpoint = Type.Object({
  ...endpointProperties,
  secret,
  previous_secret_expires_at: Type.String({ format: "date-time", description: "Until then deliveries carry a second v1 signature, made with the previous secret." }),
  webhook_id: Uuid,
  last4: Type.String({ description: "The last 4 hex characters of the new secret (the endpoint's secret_last4 from now on)." }),
  rotated_at: Timestamp,
});

export const DeletedEndpoint = Type.Object({ object: Type.Literal("webhook_endpoint"), id: Uuid, deleted: Type.Literal(true) });

export const EndpointList = ListOf(Type.Ref("WebhookEndpoint"));

const Attempt = Type.Object({
  attempted_at: Timestamp,
  status_code: Nullable(Type.Integer({ description: "The receiver's HTTP status; null when it did not answer." })),
  latency_ms: Type.Integer(),
  error: Nullable(Type.String({ description: "Why the try failed, in a few words; never the receiver's body." })),
  request_body: Type.Optional(Type.String({ description: "The body as sent (events carry no secrets)." })),
});

export const WebhookDeliverySchema = Type.Object(
  {
    object: Type.Literal("webhook_delivery"),
    id: Uuid,
    endpoint_id: Uuid,
    event_id: Uuid,
    event_type: Type.String(),
    status: StringEnum(["pending", "succeeded", "failed"] as const),
    attempts: Type.Array(Attempt, { description: "Every try, oldest first." }),
    next_attempt_at: Nullable(Timestamp),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: "WebhookDelivery" },
);

export const DeliveryList = ListOf(Type.Ref("WebhookDelivery"));

export const EndpointPageQuery = PageQuery("A webhook endpoint id");
export const DeliveryPageQuery = PageQuery("A delivery id");
