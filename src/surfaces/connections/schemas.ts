import { Type } from "@sinclair/typebox";
import { CONNECTION_TOKEN_SCOPES } from "../../auth/connection-tokens.ts";
import { CONNECTION_FIELD_RULES as RULES } from "../../services/connections.ts";
import { ULID_PATTERN } from "../../services/ids.ts";
import { Nullable, StringEnum } from "../shared/schema-types.ts";

export const CONNECTION_STATUSES = ["active", "initialized", "unauthenticated", "disconnected"] as const;

const Ulid = (description: string, example: string) => Type.String({ pattern: ULID_PATTERN, minLength: 26, maxLength: 26, description, examples: [example] });

const customerId = Type.String({
  minLength: 1,
  maxLength: RULES.customerIdMaxLength,
  description: "A unique identifier used to map connections to customer records in external systems.",
  examples: ["8a46e581-48ba-498a-9ad0-2ee72582e1af"],
});
const email = Type.String({ format: "email", maxLength: RULES.emailMaxLength, description: "The email of the user", examples: ["john.doe@example.com"] });
const mobile = Type.String({
  pattern: RULES.mobilePattern,
  maxLength: RULES.mobileMaxLength,
  description: "The customer's mobile phone number, E.164 (+ and up to 15 digits)",
  examples: ["+1234567890"],
});

/** The seed 003 response: exactly six fields, all always present. */
export const ConnectionSchema = Type.Object(
  {
    connection_id: Ulid("A unique identifier for the connection", "01J51S0JYV6N7K1030CV1ZKSCA"),
    customer_id: Type.String({ description: customerId.description, examples: customerId.examples }),
    retailer_id: Ulid("The unique identifier for the retailer in the connection", "01J7SC0NN73R6F5VVSP3ZKPDA3"),
    status: StringEnum(CONNECTION_STATUSES, { description: "The status of the connection", examples: ["active"] }),
    email: Nullable(Type.String({ description: "The customer's email address", examples: ["alice@example.com"] })),
    mobile: Nullable(Type.String({ description: "The customer's mobile phone number", examples: ["+1234567890"] })),
  },
  { $id: "Connection", additionalProperties: false },
);

export const ConnectionParams = Type.Object({ connection_id: Type.String({ pattern: ULID_PATTERN, description: "A connection id (ULID)" }) });

export const CreateConnectionBody = Type.Object(
  {
    customer_id: customerId,
    retailer_id: Type.String({ pattern: ULID_PATTERN, description: "A retailer from GET /retailers", examples: ["01J7SC0NN73R6F5VVSP3ZKPDA3"] }),
    email: Type.Optional(Nullable(email)),
    mobile: Type.Optional(Nullable(mobile)),
  },
  { additionalProperties: false },
);

export const UpdateConnectionBody = Type.Object(
  {
    customer_id: Type.Optional(Nullable(customerId)),
    email: Type.Optional(Nullable(email)),
    mobile: Type.Optional(Nullable(mobile)),
    status: Type.Optional(
      Type.Unsafe<"disconnected" | null>({
        type: ["string", "null"],
        enum: ["disconnected", null],
        description: "The new status of the connection. Currently can only be used to disconnect a connection.",
        examples: ["disconnected"],
      }),
    ),
  },
  { additionalProperties: false },
);

export const ListConnectionsQuery = Type.Object(
  { customer_id: Type.String({ minLength: 1, maxLength: RULES.customerIdMaxLength, description: "The customer whose connections to list" }) },
  { additionalProperties: false },
);

export const ConnectionList = Type.Object({ connections: Type.Array(Type.Ref("Connection")) });

export const TokenBody = Type.Object(
  { scope: StringEnum(CONNECTION_TOKEN_SCOPES, { description: "link: opens the hosted link page; access: GET/PATCH /connections/{connection_id}" }) },
  { additionalProperties: false },
);

export const TokenResponse = Type.Object({
  connection_token: Type.String({ description: "Signed, bound to this connection and scope, valid for 15 minutes. A secret: hand it only to whom it is for." }),
});

export const SimulatedStatusBody = Type.Object(
  { status: StringEnum(["unauthenticated"] as const, { description: "What the retailer rejecting the stored login would do" }) },
  { additionalProperties: false },
);

export const RetailerList = Type.Object({
  retailers: Type.Array(
    Type.Object({
      retailer_id: Type.String({ description: "26-character ULID" }),
      name: Type.String(),
      slug: Type.String(),
    }),
  ),
});
