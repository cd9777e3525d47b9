import type { ConnectionRecord, ConnectionStatus } from "../db/schema.ts";

/**
 * The one shape in which a connection leaves the service (seed 003): exactly
 * these six fields, always all present. The sealed retailer login, the entity
 * and the bookkeeping columns never leave through here.
 */
export interface Connection {
  connection_id: string;
  customer_id: string;
  retailer_id: string;
  status: ConnectionStatus;
  email: string | null;
  mobile: string | null;
}

export function toConnection(c: ConnectionRecord): Connection {
  return {
    connection_id: c.id,
    customer_id: c.customer_id,
    retailer_id: c.retailer_id,
    status: c.status,
    email: c.email,
    mobile: c.mobile,
  };
}
