import { Type } from "@sinclair/typebox";
import { EVENT_TYPES } from "../../services/outbox.ts";
import { MAX_URL_LENGTH } from "../../providers/webhook-address.ts";
import { Nullable, StringEnum, Timestamp, Uuid } from "../shared/schema-types.ts";

export const EndpointParams = Type.Object({ id: Type.String({ description: "The webhook endpoint id (a UUID)." }) });
export const DeliveryParams = Type.Object({ id: Type.String(), delivery_id: Type.String() });

const EventSubscription = Type.Array(StringEnum([...EVENT_TYPES, "*"] as const), {
  minItems: 1,
  maxItems: EVENT_TYPES.length + 1,
  uniqueItems: true,
  description: `Event types to receive, or ["*"] for all of them: ${EVENT_TYPES.join(", ")}.`,
});

const endpointFields = {
  url: Type.String({ minLength: 1, maxLength: MAX_URL_LENGTH, description: "An absolute https URL of a public host (http and private hosts only with PATCHBAY_WEBHOOK_ALLOW_PRIVATE=true)." }),
  events: EventSubscription,
  enabled: Type.Boolean({ description: "Disabled endpoints receive nothing (default true)." }),
  description: Nullable(Type.String({ maxLength: 500 })),
};

export const CreateEndpointBody = Type.Object(
  { url: endpointFields.url, events: endpointFields.events, enabled: Type.Optional(endpointFields.enabled), description: Type.Optional(endpointFields.description) },
  { additionalProperties: false },
);

export const UpdateEndpointBody = Type.Partial(Type.Object(endpointFields, { additionalProperties: false }), { additionalProperties: false, minProperties: 1 });

const endpointProperties = {
  object: Type.Literal("webhook_endpoint"),
  id: Uuid,
  url: Type.String(),
  events: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  description: Nullable(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
};

export const WebhookEndpointSchema = Type.Object(endpointProperties, {
  $id: "WebhookEndpoint",
  description: "Where the entity's events are POSTed. The signing secret is never returned, except once by create and rotate_secret.",
});

const secret = Type.String({ description: "The signing secret (whsec_…): shown in this answer only. Not kept in the idempotency store: a replay answers without it." });

export const EndpointWithSecret = Type.Object({ ...endpointProperties, secret });

export const RotatedEndpoint = Type.Object({
  ...endpointProperties,
  secret,
  previous_secret_expires_at: Type.String({ format: "date-time", description: "Until then deliveries carry a second v1 signature, made with the previous secret." }),
});

export const DeletedEndpoint = Type.Object({ object: Type.Literal("webhook_endpoint"), id: Uuid, deleted: Type.Literal(true) });

export const EndpointList = Type.Object({ object: Type.Literal("list"), data: Type.Array(Type.Ref("WebhookEndpoint")), has_more: Type.Boolean(), url: Type.String() });

const Attempt = Type.Object({
  attempted_at: Timestamp,
  status_code: Nullable(Type.Integer({ description: "The receiver's HTTP status; null when it did not answer." })),
  latency_ms: Type.Integer(),
  error: Nullable(Type.String({ description: "Why the try failed, in a few words; never the receiver's body." })),
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

export const DeliveryList = Type.Object({ object: Type.Literal("list"), data: Type.Array(Type.Ref("WebhookDelivery")), has_more: Type.Boolean(), url: Type.String() });

export const PageQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    starting_after: Type.Optional(Type.String({ format: "uuid", description: "An id: the page after it." })),
    ending_before: Type.Optional(Type.String({ format: "uuid", description: "An id: the page before it." })),
  },
  { additionalProperties: false },
);
