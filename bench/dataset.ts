import { randomUUID } from "node:crypto";
import { systemClock } from "../src/clock.ts";
import { CONNECTOR_TYPES, connectorDefinition, type ConnectorType } from "../src/catalog/index.ts";
import { loadConfig } from "../src/config.ts";
import type { Database } from "../src/db/index.ts";
import type { NewConnector } from "../src/db/schema.ts";
import { uuidv7 } from "../src/services/ids.ts";
import { createServices } from "../src/services/index.ts";

/** One API key of one seeded entity, and the connector the scenarios drive with it. */
export interface Actor {
  entityId: string;
  key: string;
  type: ConnectorType;
  connectorId: string;
}

/**
 * Who drives what: every connection of a scenario acts as its own entity, so
 * writers never queue on one another's row lock and each scenario starts from
 * rows no other scenario touched.
 */
export interface Dataset {
  entities: number;
  connectors: number;
  readers: Actor[];
  patchers: Actor[];
  replayers: Actor[];
  cyclers: Actor[];
}

const SHIP_FROM = {
  ship_from_name: "Bench Warehouse",
  ship_from_address1: "1 Loopback Way",
  ship_from_city: "Springfield",
  ship_from_state: "IL",
  ship_from_zip: "62701",
};

/** The connector types entity number `i` holds: `count` of the 16, rotated so every type is equally common. */
export function typesOf(i: number, count: number): ConnectorType[] {
  return Array.from({ length: count }, (_, j) => CONNECTOR_TYPES[(i + j) % CONNECTOR_TYPES.length]!);
}

/** A row as POST would have made it: the type's required fields filled, a valid config. */
function connectorRow(entityId: string, type: ConnectorType, n: number, now: Date): NewConnector {
  const def = connectorDefinition(type);
  const row: NewConnector = {
    id: uuidv7(now),
    entity_id: entityId,
    connector_type: type,
    display_name: def.name,
    mode: n % 2 === 0 ? "live" : "sandbox",
    is_active: true,
    config: JSON.stringify(type === "stripe" ? { currency: "usd", capture_method: "automatic" } : {}),
    created_at: now,
    updated_at: now,
  };
  for (const field of def.requiredFields) {
    if (field === "seller_id") row.seller_id = `A${String(n).padStart(12, "0")}`;
    else if (field === "bank_account_id") row.bank_account_id = randomUUID();
    else row[field] = SHIP_FROM[field];
  }
  return row;
}

async function insertInBatches<T>(items: readonly T[], size: number, insert: (batch: T[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await insert(items.slice(i, i + size));
}

/** Bulk-inserts entities holding `perEntity` connectors each (the last may hold fewer), `total` connectors in all. */
export async function insertEntitiesWithConnectors(db: Database, total: number, perEntity: number, namePrefix: string): Promise<{ entityIds: string[]; connectors: NewConnector[][] }> {
  const now = new Date();
  const entityCount = Math.ceil(total / perEntity);
  const entityIds: string[] = [];
  const connectors: NewConnector[][] = [];
  let left = total;
  for (let i = 0; i < entityCount; i++) {
    const id = uuidv7(now);
    entityIds.push(id);
    const count = Math.min(perEntity, left);
    left -= count;
    connectors.push(typesOf(i, count).map((t) => connectorRow(id, t, i, now)));
  }
  await insertInBatches(entityIds, 1000, (batch) =>
    db.insertInto("entities").values(batch.map((id, k) => ({ id, name: `${namePrefix} ${k}`, created_at: now }))).execute(),
  );
  await insertInBatches(connectors.flat(), 1000, (batch) => db.insertInto("connectors").values(batch).execute());
  return { entityIds, connectors };
}

/** An API key through the service layer, as the admin API makes it. */
async function keysFor(db: Database, entityIds: readonly string[]): Promise<string[]> {
  const services = createServices({ db, clock: systemClock, config: loadConfig({}) });
  const keys: string[] = [];
  for (const entityId of entityIds) {
    const k = await services.apiKeys.createApiKey(entityId, { name: "bench", mode: "live", scopes: ["integrations:read", "integrations:write"] });
    keys.push(k.key);
  }
  return keys;
}

/**
 * The dataset: `entities` entities × `perEntity` connectors, then API
 * keys for four groups of `groupSize` entities (one per connection):
 * readers (GET and list, each its own first type), and three groups of
 * writers on their stripe connector (PATCH fresh, PATCH replayed, DELETE+POST).
 */
export async function seedDataset(db: Database, opts: { entities: number; perEntity: number; groupSize: number }): Promise<Dataset> {
  const { entityIds, connectors } = await insertEntitiesWithConnectors(db, opts.entities * opts.perEntity, opts.perEntity, "Bench entity");
  const actorAt = (i: number, type: ConnectorType) => ({ entityId: entityIds[i]!, type, connectorId: connectors[i]!.find((c) => c.connector_type === type)!.id });

  const readers = Array.from({ length: opts.groupSize }, (_, i) => actorAt(i, connectors[i]![0]!.connector_type as ConnectorType));
  const withStripe: number[] = [];
  for (let i = opts.groupSize; i < entityIds.length && withStripe.length < 3 * opts.groupSize; i++) {
    if (connectors[i]!.some((c) => c.connector_type === "stripe")) withStripe.push(i);
  }
  if (withStripe.length < 3 * opts.groupSize) throw new Error(`the dataset has too few entities for ${opts.groupSize} connections per scenario`);
  const writers = withStripe.map((i) => actorAt(i, "stripe"));

  const all = [...readers, ...writers];
  const keys = await keysFor(db, all.map((a) => a.entityId));
  const withKeys = all.map((a, i) => ({ ...a, key: keys[i]! }));
  const g = opts.groupSize;
  return {
    entities: entityIds.length,
    connectors: connectors.flat().length,
    readers: withKeys.slice(0, g),
    patchers: withKeys.slice(g, 2 * g),
    replayers: withKeys.slice(2 * g, 3 * g),
    cyclers: withKeys.slice(3 * g, 4 * g),
  };
}

/** One entity with `perEntity` connectors and a key: the subject of the list-scaling measurement. */
export async function seedListSubject(db: Database, perEntity: number): Promise<Actor> {
  const { entityIds, connectors } = await insertEntitiesWithConnectors(db, perEntity, perEntity, "List subject");
  const [key] = await keysFor(db, entityIds);
  const first = connectors[0]![0]!;
  return { entityId: entityIds[0]!, key: key!, type: first.connector_type as ConnectorType, connectorId: first.id };
}
