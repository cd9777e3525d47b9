import type { Clock } from "../kernel/clock.ts";
import { selectConnectorWithSealed, updateConnector } from "./connector-store.ts";
import { connectorDefinition, type ConnectorDefinition, type ConnectorType } from "../catalog/index.ts";
import type { Database } from "../db/index.ts";
import { createRowCache } from "../db/row-cache.ts";
import type { ConnectorRecord } from "../db/schema.ts";
import type { SecretPlace, Vault } from "../vault/vault.ts";
import type { ApiKeyActor } from "../auth/actor.ts";
import { auditActorOf, type AuditAction } from "./audit.ts";
import { recordConnectorChange, type ConnectorAuditField } from "./connector-changes.ts";
import { toConnectorRow, type ConnectorRow } from "./connector-row.ts";
import type { ConnectorService } from "./connectors.ts";
import { ValidationError, type Violation } from "../kernel/errors.ts";

/** Vault purposes of a connector's secrets (part of each blob's authenticated data). */
export const CREDENTIALS_PURPOSE = "connector.credentials";
export const WEBHOOK_SECRET_PURPOSE = "connector.webhook_secret";

export type Credentials = Record<string, string>;

function secretPlaceOf(c: Pick<ConnectorRecord, "id" | "entity_id">, purpose: string): SecretPlace {
  return { entityId: c.entity_id, ownerId: c.id, purpose };
}

/**
 * A connector's secrets: written through their own write-only endpoints,
 * sealed in the vault, and shown on the row only as "there is one" and the
 * credential key names. Every write locks the connector row and changes the
 * vault and the row in one transaction.
 */
export interface CredentialServiceDeps {
  db: Database;
  clock: Clock;
  vault: Vault;
  connectors: ConnectorService;
  /** PATCHBAY_PUBLIC_URL: the base of each row's inbound_webhook_url. */
  publicUrl: string;
  /** Called in the transaction that stores new credentials (queues their verification). */
  onCredentialsStored?: (trx: Database, connectorId: string) => Promise<unknown>;
  /** PATCHBAY_CACHE_TTL_MS: how long a proxied connector and its opened credentials may be used from memory (0: read on every call). */
  cacheTtlMs?: number;
}

/** What a credential write shows in the audit log: whether a secret exists and the key names, never a value. */
const CREDENTIAL_FIELDS: readonly ConnectorAuditField[] = ["has_credentials_secret_arn", "credentials_masked"];
const WEBHOOK_SECRET_FIELDS: readonly ConnectorAuditField[] = ["has_webhook_secret"];

/** Connectors whose opened credentials a process keeps (the oldest entry goes first beyond it). */
const OPENED_CACHE_ENTRIES = 10_000;

export function createCredentialService({ db, clock, vault, connectors, publicUrl, onCredentialsStored, cacheTtlMs = 0 }: CredentialServiceDeps) {
  /** Opened credentials by connector id, with the sealed bytes they were opened from (the version). */
  const opened = new Map<string, { masterKeyId: string; wrappedKey: Buffer; ciphertext: Buffer; value: Credentials }>();
  /**
   * The proxy's connector with its opened credentials, by entity and type:
   * forgotten when the connector or its sealed secret changes (this
   * process's write at once, another's when its commit is announced), at
   * the latest after cacheTtlMs.
   */
  const proxied = createRowCache<{ connector: ConnectorRecord; credentials: Credentials | null }>({
    db,
    ttlMs: cacheTtlMs,
    tables: ["connectors", "vault_secrets"],
    affects: (change, { connector }) =>
      (change.table === "connectors" && (change.id === undefined || change.id === connector.entity_id)) ||
      (change.table === "vault_secrets" && (change.id === undefined || change.id === connector.id)),
  });

  async function readConnectorWithCredentials(entityId: string, type: string): Promise<{ connector: ConnectorRecord; credentials: Credentials | null } | undefined> {
    const row = await selectConnectorWithSealed(db, entityId, type, CREDENTIALS_PURPOSE);
    if (!row) return undefined;
    const { sealed_master_key_id: masterKeyId, sealed_wrapped_key: wrappedKey, sealed_ciphertext: ciphertext, ...connector } = row;
    Object.freeze(connector);
    if (masterKeyId === null || wrappedKey === null || ciphertext === null) {
      opened.delete(connector.id);
      return { connector, credentials: null };
    }
    const hit = opened.get(connector.id);
    // PGlite returns bytea as a Uint8Array, pg as a Buffer: compared as bytes.
    if (hit && hit.masterKeyId === masterKeyId && Buffer.compare(hit.ciphertext, ciphertext) === 0 && Buffer.compare(hit.wrappedKey, wrappedKey) === 0) return { connector, credentials: hit.value };
    const value = Object.freeze(vault.openSealed<Credentials>(secretPlaceOf(connector, CREDENTIALS_PURPOSE), { masterKeyId, wrappedKey, ciphertext })) as Credentials;
    if (opened.size >= OPENED_CACHE_ENTRIES) opened.delete(opened.keys().next().value!);
    opened.set(connector.id, { masterKeyId, wrappedKey, ciphertext, value });
    return { connector, credentials: value };
  }

  /** Every secret write is a `connector.updated` event and one audit entry, in the write's transaction. */
  async function recordSecretWrite(trx: Database, actor: ApiKeyActor, action: AuditAction, before: ConnectorRecord, after: ConnectorRecord, fields: readonly ConnectorAuditField[], at: Date): Promise<ConnectorRow> {
    const row = toConnectorRow(after, publicUrl);
    await recordConnectorChange(trx, { actor: auditActorOf(actor), action, event: "connector.updated", before: toConnectorRow(before, publicUrl), after: row, fields, at });
    return row;
  }

  return {
    /** PUT …/credentials: replaces the stored credentials with `values` (keys from the catalog). */
    async putCredentials(actor: ApiKeyActor, type: ConnectorType, values: Credentials): Promise<ConnectorRow> {
      const violations = credentialViolations(connectorDefinition(type), values);
      if (violations.length > 0) throw ValidationError.of(violations, { to: "see_catalog_credential_keys" });
      return db.transaction().execute(async (trx) => {
        const c = await connectors.lockWritableConnector(trx, actor, type);
        const secretId = await vault.sealSecret(trx, secretPlaceOf(c, CREDENTIALS_PURPOSE), values);
        const now = clock.now();
        const row = await updateConnector(trx, c.id, { credentials_secret_id: secretId, credential_keys: Object.keys(values).sort(), updated_at: now });
        // Stored credentials always count as a change: the values are new even when the key names are not.
        const projected = await recordSecretWrite(trx, actor, "connector.credentials_stored", c, row, CREDENTIAL_FIELDS, now);
        await onCredentialsStored?.(trx, c.id);
        return projected;
      });
    },

    /** DELETE …/credentials: destroys the stored credentials at once (not recoverable). */
    async deleteCredentials(actor: ApiKeyActor, type: ConnectorType): Promise<ConnectorRow> {
      return db.transaction().execute(async (trx) => {
        const c = await connectors.lockWritableConnector(trx, actor, type);
        if (c.credentials_secret_id === null) return toConnectorRow(c, publicUrl);
        const now = clock.now();
        const row = await updateConnector(trx, c.id, { credentials_secret_id: null, credential_keys: [], updated_at: now });
        await vault.destroySecret(trx, secretPlaceOf(c, CREDENTIALS_PURPOSE));
        return recordSecretWrite(trx, actor, "connector.credentials_deleted", c, row, CREDENTIAL_FIELDS, now);
      });
    },

    /** PUT …/webhook-secret: stores (or replaces) the provider's webhook signing secret. */
    async putWebhookSecret(actor: ApiKeyActor, type: ConnectorType, secret: string): Promise<ConnectorRow> {
      return db.transaction().execute(async (trx) => {
        const c = await connectors.lockWritableConnector(trx, actor, type);
        const secretId = await vault.sealSecret(trx, secretPlaceOf(c, WEBHOOK_SECRET_PURPOSE), secret);
        const now = clock.now();
        const row = await updateConnector(trx, c.id, { webhook_secret_id: secretId, updated_at: now });
        return recordSecretWrite(trx, actor, "connector.webhook_secret_stored", c, row, WEBHOOK_SECRET_FIELDS, now);
      });
    },

    /** DELETE …/webhook-secret: destroys the stored webhook signing secret. */
    async deleteWebhookSecret(actor: ApiKeyActor, type: ConnectorType): Promise<ConnectorRow> {
      return db.transaction().execute(async (trx) => {
        const c = await connectors.lockWritableConnector(trx, actor, type);
        if (c.webhook_secret_id === null) return toConnectorRow(c, publicUrl);
        const now = clock.now();
        const row = await updateConnector(trx, c.id, { webhook_secret_id: null, updated_at: now });
        await vault.destroySecret(trx, secretPlaceOf(c, WEBHOOK_SECRET_PURPOSE));
        return recordSecretWrite(trx, actor, "connector.webhook_secret_deleted", c, row, WEBHOOK_SECRET_FIELDS, now);
      });
    },

    /** The connector's credentials, for provider calls made inside the server. Never for a response. */
    async openCredentials(connector: Pick<ConnectorRecord, "id" | "entity_id">): Promise<Credentials | null> {
      return vault.openSecret<Credentials>(db, secretPlaceOf(connector, CREDENTIALS_PURPOSE));
    },

    /**
     * The entity's connector of `type` and its opened credentials, in one
     * query (the sealed row is joined to the connector's). Opened values are
     * kept in this process, keyed by the connector and compared with the
     * sealed bytes every query returns: a new seal (PUT, rewrap) has new
     * bytes (a fresh IV and data key), so a stale value is never used, and
     * a destroyed secret is simply absent. The pair itself is kept for at
     * most cacheTtlMs (see `proxied`). Never for a response.
     */
    async connectorWithCredentials(entityId: string, type: string): Promise<{ connector: ConnectorRecord; credentials: Credentials | null } | undefined> {
      return proxied.get(`${entityId}/${type}`, () => readConnectorWithCredentials(entityId, type));
    },

    close(): void {
      proxied.close();
    },

    /** The connector's webhook signing secret, for verifying the provider's webhooks. Never for a response. */
    async openWebhookSecret(connector: Pick<ConnectorRecord, "id" | "entity_id">): Promise<string | null> {
      return vault.openSecret<string>(db, secretPlaceOf(connector, WEBHOOK_SECRET_PURPOSE));
    },
  };
}

export type CredentialService = ReturnType<typeof createCredentialService>;

/** Keys must be the type's credential keys, all required ones present; messages name keys, never values. */
function credentialViolations(def: ConnectorDefinition, values: Credentials): Violation[] {
  if (def.authMode === "B") {
    return [
      {
        param: "connector_type",
        message: `${def.name} connects through OAuth: its tokens come from the authorization flow and are never written through this endpoint.`,
      },
    ];
  }
  const keys = Object.keys(values);
  const violations: Violation[] = keys
    .filter((k) => !def.credentialKeys.includes(k))
    .map((k) => ({ param: k, message: `"${k}" is not a ${def.name} credential key; accepted keys: ${def.credentialKeys.join(", ")}.` }));
  for (const k of def.requiredCredentialKeys) {
    if (!Object.hasOwn(values, k)) violations.push({ param: k, message: `${def.name} credentials require "${k}".` });
  }
  if (keys.length === 0 && violations.length === 0) violations.push({ param: "body", message: "Send at least one credential key." });
  return violations;
}
