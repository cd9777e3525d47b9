import { Type } from "@sinclair/typebox";
import { DESTINATION_NAME_MAX } from "../../services/webhook-destinations.ts";
import { ULID_PATTERN } from "../../kernel/ids.ts";
import { MAX_URL_LENGTH } from "../../providers/webhook-address.ts";
import { DESTINATION_EVENT_TYPES } from "../../services/outbox.ts";
import { StringEnum } from "../shared/schema-types.ts";

/** /webhooks: Subtotal's webhook destinations (docs.subtotal.com webhooks/configuration), managed through the API. */

const name = Type.String({ minLength: 1, maxLength: DESTINATION_NAME_MAX, description: "A name for the destination", examples: ["Production"] });
const url = Type.String({ minLength: 1, maxLength: MAX_URL_LENGTH, description: "Where events are POSTed: https (http only with PATCHBAY_WEBHOOK_ALLOW_PRIVATE)", examples: ["https://example.com/subtotal/webhooks"] });
const events = Type.Array(StringEnum(DESTINATION_EVENT_TYPES), {
  minItems: 1,
  maxItems: DESTINATION_EVENT_TYPES.length * 2,
  description: "The events enabled for this destination",
  examples: [["connection.activated", "purchase.created"]],
});
const acceptsSimulated = Type.Boolean({ description: "Whether simulated events (POST /webhooks/simulate) are delivered here. Default false." });

export const DestinationSchema = Type.Object(
  {
    destination_id: Type.String({ pattern: ULID_PATTERN, description: "A unique identifier for the destination", examples: ["01KFJSR44CPH867805V8GJ9VCY"] }),
    name: Type.String(),
    url: Type.String(),
    events: Type.Array(Type.String()),
    accepts_simulated_events: Type.Boolean(),
    created_at: Type.String({ format: "date-time" }),
    updated_at: Type.String({ format: "date-time" }),
  },
  { $id: "WebhookDestination", additionalProperties: false },
);

export const DestinationWithSecret = Type.Intersect([
  Type.Ref("WebhookDestination"),
  Type.Object({ signing_secret: Type.String({ description: "Shown in this answer only: verify X-Subtotal-Signature with it. Never returned again." }) }),
]);

export const DestinationList = Type.Object({ webhooks: Type.Array(Type.Ref("WebhookDestination")) });

export const DestinationParams = Type.Object({ destination_id: Type.String({ pattern: ULID_PATTERN, description: "A destination id (ULID)" }) });

export const CreateDestinationBody = Type.Object(
  { name, url, events, accepts_simulated_events: Type.Optional(acceptsSimulated) },
  { additionalProperties: false },
);

export const UpdateDestinationBody = Type.Object(
  { name: Type.Optional(name), url: Type.Optional(url), events: Type.Optional(events), accepts_simulated_events: Type.Optional(acceptsSimulated) },
  { additionalProperties: false },
);

export const SimulateBody = Type.Object(
  { events: Type.Optional(events) },
  { additionalProperties: false, description: "The event types to simulate; without events, one of each." },
);

export const SimulateResponse = Type.Object({
  events: Type.Array(Type.Object({ id: Type.String({ description: "The id the deliveries carry" }), type: Type.String() })),
});
