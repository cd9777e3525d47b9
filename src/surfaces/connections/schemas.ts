import { Type } from "@sinclair/typebox";
import { CONNECTION_TOKEN_SCOPES } from "../../auth/connection-tokens.ts";
import { CONNECTION_FIELD_RULES as RULES } from "../../services/connections.ts";
import { ULID_PATTERN } from "../../kernel/ids.ts";
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
    retailer_id: Type.String({
      minLength: 1,
      maxLength: 26,
      description: "A retailer from GET /retailers: its slug or its ULID. Answers show the ULID.",
      examples: ["walmart", "target", "amazon", "01J7SC0NN73R6F5VVSP3ZKPDA3"],
    }),
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

const decimalString = (description: string, example: string) =>
  Type.String({ pattern: "^(?!^[-+.]*$)[+-]?0*\\d*\\.?\\d*$", description, examples: [example] });

/** Subtotal's Get Purchases query: limit 1–50 (default 10), starting_after a purchase id. */
export const ListPurchasesQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 50, default: 10, description: "The maximum number of purchases to return", examples: [10] }),
    starting_after: Type.Optional(
      Type.String({
        pattern: ULID_PATTERN,
        description: "The purchase id of the last purchase you processed. The next purchase returned will be the next oldest purchase.",
        examples: ["01J51S0JYV6N7K1030CV1ZJH30"],
      }),
    ),
  },
  { additionalProperties: false },
);

export const PurchaseParams = Type.Object({ purchase_id: Type.String({ pattern: ULID_PATTERN, description: "A purchase id (ULID)" }) });

export const PurchaseSummarySchema = Type.Object(
  {
    purchase_id: Ulid("The unique identifier for the purchase", "01J51S0JYV6N7K1030CV1ZKSJH"),
    date: Type.String({ format: "date-time", description: "The date and time of the purchase", examples: ["2024-01-01T00:00:00Z"] }),
    total: decimalString("The total amount of the purchase", "100.00"),
  },
  { additionalProperties: false },
);

export const PurchaseList = Type.Object(
  {
    has_more: Type.Boolean({ description: "Whether there are more purchases available to fetch" }),
    purchases: Type.Array(PurchaseSummarySchema, { description: "The list of purchases for the connection sorted in descending order by purchase date" }),
  },
  { additionalProperties: false },
);

const ProductSchema = Type.Object(
  {
    product_id: Nullable(Type.String({ description: "The retailer's product id", examples: ["01J51S0JYV6N7K1030CV1ZKSCB"] })),
    description: Nullable(Type.String({ examples: ["Diet Coke - 12pk/12oz cans"] })),
    name: Nullable(Type.String({ examples: ["Diet Coke 12pk"] })),
    upc: Nullable(Type.String({ examples: ["049000028911"] })),
    brand: Nullable(Type.String({ examples: ["diet-coke"] })),
  },
  { additionalProperties: false },
);

export const PurchaseSchema = Type.Object(
  {
    purchase_id: Ulid("The unique identifier for the purchase", "01J51S0JYV6N7K1030CV1ZKSCF"),
    date: Type.String({ format: "date-time", description: "The date and time of the purchase", examples: ["2024-01-01T00:00:00Z"] }),
    total: decimalString("The total amount of the purchase", "9.34"),
    tax: decimalString("The tax amount of the purchase", "0.85"),
    subtotal: decimalString("The subtotal amount of the purchase", "8.49"),
    item_count: Type.Integer({ description: "The number of items in the purchase", examples: [1] }),
    items: Type.Array(
      Type.Object(
        {
          item_id: Ulid("The unique identifier for the item", "01J51S0JYV6N7K1030CV1ZKSCA"),
          price: decimalString("The price paid for the item (all of its quantity)", "8.49"),
          quantity: decimalString("The quantity bought (a decimal string: some items are sold by weight)", "1"),
          product: ProductSchema,
        },
        { additionalProperties: false },
      ),
      { description: "The list of items in the purchase" },
    ),
  },
  { $id: "Purchase", additionalProperties: false },
);
