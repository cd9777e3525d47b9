import { randomUUID } from "node:crypto";
import { systemClock } from "../src/kernel/clock.ts";
import { CONNECTOR_TYPES, connectorDefinition, type ConnectorType } from "../src/catalog/index.ts";
import { loadConfig } from "../src/config.ts";
import type { Database } from "../src/db/index.ts";
import type { NewConnector } from "../src/db/schema.ts";
import { adminActor } from "../src/services/audit.ts";
import { CREDENTIALS_PURPOSE } from "../src/services/credentials.ts";
import { uuidv7 } from "../src/kernel/ids.ts";
import { createServices, type Services } from "../src/compose.ts";
import type { KeyRing } from "../src/vault/envelope.ts";

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
  /** Connectors with sealed credentials (the types that take credentials). */
  sealed: number;
  readers: Actor[];
  patchers: Actor[];
  replayers: Actor[];
  cyclers: Actor[];
  /** Keys with integrations:proxy, each on its own entity's stripe connector (the proxy scenario). */
  proxiers: Actor[];
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
    // Checked just now, as a running deployment's connectors would have been within the hour. Left
    // null, every seeded connector is due at once: the periodic health checks then call the real
    // providers with placeholder credentials for the whole run, from the server under load.
    last_sync_at: now,
    sync_status: "ok",
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

/** Credentials as PUT …/credentials would store them: every key the type takes, placeholder values. */
function benchCredentials(type: ConnectorType, n: number): Record<string, string> | null {
  const def = connectorDefinition(type);
  if (def.authMode !== "A" || def.credentialKeys.length === 0) return null;
  return Object.fromEntries(def.credentialKeys.map((k) => [k, `bench_${k}_${n}_${randomUUID()}`]));
}

/** The service layer over the bench database, with the bench's master key ring (never a key file). */
export function benchServices(db: Database, keyRing: KeyRing): Services {
  return createServices({ db, clock: systemClock, config: loadConfig({}), keyRing });
}

async function insertInBatches<T>(items: readonly T[], size: number, insert: (batch: T[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await insert(items.slice(i, i + size));
}

/** Bulk-inserts entities holding `perEntity` connectors each (the last may hold fewer), `total` connectors in all. */
export async function insertEntitiesWithConnectors(
  db: Database,
  total: number,
  perEntity: number,
  namePrefix: string,
  services?: Services,
): Promise<{ entityIds: string[]; connectors: NewConnector[][] }> {
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
  if (services) await sealCredentials(db, services, connectors.flat());
  await insertInBatches(connectors.flat(), 1000, (batch) => db.insertInto("connectors").values(batch).execute());
  return { entityIds, connectors };
}

/**
 * Seals credentials for every connector whose type takes them, through the
 * vault itself (same envelope, same bound place), before the rows that point
 * at them are inserted.
 */
async function sealCredentials(db: Database, services: Services, rows: NewConnector[]): Promise<void> {
  await insertInBatches(rows, 1000, (batch) =>
    db.transaction().execute(async (trx) => {
      for (const [n, row] of batch.entries()) {
        const credentials = benchCredentials(row.connector_type as ConnectorType, n);
        if (!credentials) continue;
        row.credentials_secret_id = await services.vault.sealSecret(trx, { entityId: row.entity_id, ownerId: row.id, purpose: CREDENTIALS_PURPOSE }, credentials);
        row.credential_keys = Object.keys(credentials).sort();
      }
    }),
  );
}

/** An API key through the service layer, as the admin API makes it. */
async function keysFor(services: Services, entityIds: readonly string[], scopes = ["integrations:read", "integrations:write"]): Promise<string[]> {
  const keys: string[] = [];
  for (const entityId of entityIds) {
    const k = await services.apiKeys.createApiKey(entityId, { name: "bench", mode: "live", scopes }, adminActor());
    keys.push(k.key);
  }
  return keys;
}

/**
 * The dataset: `entities` entities × `perEntity` connectors (with
 * sealed credentials wherever the type takes them), then API
 * keys for four groups of `groupSize` entities (one per connection):
 * readers (GET and list, each its own first type), and three groups of
 * writers on their stripe connector (PATCH fresh, PATCH replayed, DELETE+POST),
 * and proxiers (a proxied GET through their stripe connector).
 */
export async function seedDataset(db: Database, keyRing: KeyRing, opts: { entities: number; perEntity: number; groupSize: number }): Promise<Dataset> {
  const services = benchServices(db, keyRing);
  const { entityIds, connectors } = await insertEntitiesWithConnectors(db, opts.entities * opts.perEntity, opts.perEntity, "Bench entity", services);
  const actorAt = (i: number, type: ConnectorType) => ({ entityId: entityIds[i]!, type, connectorId: connectors[i]!.find((c) => c.connector_type === type)!.id });

  const readers = Array.from({ length: opts.groupSize }, (_, i) => actorAt(i, connectors[i]![0]!.connector_type as ConnectorType));
  const withStripe: number[] = [];
  for (let i = opts.groupSize; i < entityIds.length && withStripe.length < 4 * opts.groupSize; i++) {
    if (connectors[i]!.some((c) => c.connector_type === "stripe")) withStripe.push(i);
  }
  if (withStripe.length < 4 * opts.groupSize) throw new Error(`the dataset has too few entities for ${opts.groupSize} connections per scenario`);
  const writers = withStripe.map((i) => actorAt(i, "stripe"));

  const g = opts.groupSize;
  const all = [...readers, ...writers.slice(0, 3 * g)];
  const keys = await keysFor(services, all.map((a) => a.entityId));
  const withKeys = all.map((a, i) => ({ ...a, key: keys[i]! }));
  const proxyKeys = await keysFor(services, writers.slice(3 * g).map((a) => a.entityId), ["integrations:read", "integrations:proxy"]);
  return {
    entities: entityIds.length,
    connectors: connectors.flat().length,
    sealed: connectors.flat().filter((c) => c.credentials_secret_id).length,
    readers: withKeys.slice(0, g),
    patchers: withKeys.slice(g, 2 * g),
    replayers: withKeys.slice(2 * g, 3 * g),
    cyclers: withKeys.slice(3 * g, 4 * g),
    proxiers: writers.slice(3 * g).map((a, i) => ({ ...a, key: proxyKeys[i]! })),
  };
}

/** One entity with `perEntity` connectors and a key: the subject of the list-scaling measurement. */
export async function seedListSubject(db: Database, keyRing: KeyRing, perEntity: number): Promise<Actor> {
  const services = benchServices(db, keyRing);
  const { entityIds, connectors } = await insertEntitiesWithConnectors(db, perEntity, perEntity, "List subject", services);
  const [key] = await keysFor(services, entityIds);
  const first = connectors[0]![0]!;
  return { entityId: entityIds[0]!, key: key!, type: first.connector_type as ConnectorType, connectorId: first.id };
}
