import type { Kysely } from "kysely";
import type { ConnectorRecord, ConnectorUpdate, DB } from "../db/schema.ts";

/**
 * The connector store: the statements on `connectors` gather here (issue 14,
 * one owner per table; test/table-owners.test.ts lists the files not yet moved).
 */

/** Updates one connector by id in `trx` and answers the row as it now is. */
export function updateConnector(trx: Kysely<DB>, id: string, set: ConnectorUpdate): Promise<ConnectorRecord> {
  return trx.updateTable("connectors").set(set).where("id", "=", id).returningAll().executeTakeFirstOrThrow();
}
