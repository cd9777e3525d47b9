import { RETAILERS } from "../catalog/retailers.ts";
import type { ConnectionStatus } from "../db/schema.ts";
import type { Connection } from "./connection-view.ts";
import { ulidAt } from "../kernel/ids.ts";
import type { DESTINATION_EVENT_TYPES } from "./outbox.ts";
import { purchaseDate, type Purchase } from "./purchases.ts";

const STATUS_OF: Record<(typeof DESTINATION_EVENT_TYPES)[number], ConnectionStatus> = {
  "connection.activated": "active",
  "connection.unauthenticated": "unauthenticated",
  "connection.disconnected": "disconnected",
  "connection.deleted": "disconnected",
  "purchase.created": "active",
};

/**
 * The data of a simulated event: a made-up connection (and purchase) in the
 * very shapes real events carry (toConnection, toPurchase), with fresh ULIDs
 * so a receiver can tell them from real records. Nothing is written but the event.
 */
export function simulatedEventData(type: (typeof DESTINATION_EVENT_TYPES)[number], now: Date): object {
  const connection: Connection = {
    connection_id: ulidAt(now),
    customer_id: "simulated-customer",
    retailer_id: RETAILERS[0]!.id,
    status: STATUS_OF[type],
    email: null,
    mobile: null,
  };
  if (type !== "purchase.created") return connection;
  const purchase: Purchase = {
    purchase_id: ulidAt(now),
    date: purchaseDate(new Date(Math.floor(now.getTime() / 1000) * 1000)),
    total: "10.70",
    tax: "0.70",
    subtotal: "10.00",
    item_count: 2,
    items: [
      { item_id: ulidAt(now), price: "6.00", quantity: "1", product: { product_id: ulidAt(now), name: "Simulated coffee", description: "A simulated product", upc: "000000000017", brand: "simulated" } },
      { item_id: ulidAt(now), price: "4.00", quantity: "1", product: { product_id: ulidAt(now), name: "Simulated tea", description: "A simulated product", upc: "000000000024", brand: "simulated" } },
    ],
  };
  return { connection, purchase };
}
