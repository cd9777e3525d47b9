import type { ConnectionTokenScope, ConnectionTokenSigner } from "../auth/connection-tokens.ts";
import { findRetailer, RETAILERS, type Retailer } from "../catalog/retailers.ts";
import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import type { ConnectionRecord, ConnectionUpdate } from "../db/schema.ts";
import { deleteConnectionRow, insertConnection, listCustomerConnections, ownedConnectionStatement, selectOwnedConnection, setConnectionFields, updateConnection } from "./connection-store.ts";
import type { CompiledQuery } from "kysely";
import type { ApiKeyActor } from "../auth/actor.ts";
import { auditActorOf } from "./audit.ts";
import { recordChange } from "./record-change.ts";
import { loginPlace, markUnauthenticated, recordConnectionChange, type LoginVault } from "./connection-status.ts";
import { toConnection, type Connection } from "./connection-view.ts";
import { AuthenticationError, ConflictError, NotFoundError, PermissionError, ValidationError } from "../kernel/errors.ts";
import { ulidAt } from "../kernel/ids.ts";

/** Field rules of seed 003 and SPEC §4; the surface's schema is built from these. */
/** The fields a connection's create and delete audit entries show. */
const CONNECTION_AUDIT_FIELDS = ["customer_id", "retailer_id", "status", "email", "mobile"] as const;

export const CONNECTION_FIELD_RULES = {
  customerIdMaxLength: 64,
  emailMaxLength: 64,
  mobileMaxLength: 16,
  /** E.164: a plus, a country code that does not start with 0, at most 15 digits in all. */
  mobilePattern: "^\\+[1-9][0-9]{1,14}$",
} as const;

export interface CreateConnectionInput {
  customer_id: string;
  retailer_id: string;
  email?: string | null;
  mobile?: string | null;
}

/**
 * PATCH /connections/{id} (seed 003). `null` clears email and mobile; for
 * customer_id and status, which can never be empty, `null` means "no change".
 */
export interface UpdateConnectionInput {
  customer_id?: string | null;
  email?: string | null;
  mobile?: string | null;
  status?: "disconnected" | null;
}

/** Proof that the caller presented an access token for this connection; only `authorizeAccess` makes one. */
export interface ConnectionGrant {
  readonly connectionId: string;
  readonly entityId: string;
  readonly tokenId: string;
}

export interface ConnectionServiceDeps {
  db: Database;
  clock: Clock;
  tokens: ConnectionTokenSigner;
  vault: LoginVault;
}

export function createConnectionService({ db, clock, tokens, vault }: ConnectionServiceDeps) {
  async function findOwned(executor: Database, entityId: string, connectionId: string, lock = false): Promise<ConnectionRecord> {
    const c = await selectOwnedConnection(executor, entityId, connectionId, lock);
    if (!c) throw connectionNotFound(connectionId);
    return c;
  }

  return {
    listRetailers(): readonly Retailer[] {
      return RETAILERS;
    },

    /** POST /connections: a new connection, `initialized` until the customer links it. */
    async createConnection(actor: ApiKeyActor, input: CreateConnectionInput): Promise<Connection> {
      const retailer = findRetailer(input.retailer_id);
      if (!retailer) {
        throw ValidationError.of([{ param: "retailer_id", message: `Unknown retailer_id "${input.retailer_id}".`, code: "unknown_retailer" }], "GET /retailers lists them (a ULID or a slug such as walmart).");
      }
      const now = clock.now();
      return db.transaction().execute(async (trx) => {
        const created = await insertConnection(trx, {
          id: ulidAt(now),
          entity_id: actor.entityId,
          customer_id: input.customer_id,
          // A slug is stored as the retailer's ULID: answers always show the ULID (create-connection reference).
          retailer_id: retailer.id,
          email: input.email ?? null,
          mobile: input.mobile ?? null,
          status: "initialized",
          created_at: now,
          updated_at: now,
        });
        const view = toConnection(created);
        await recordConnectionChange(trx, { actor: auditActorOf(actor), action: "connection.created", before: null, after: created, fields: CONNECTION_AUDIT_FIELDS, at: now });
        return view;
      });
    },

    /** GET /connections?customer_id=…: that customer's connections, oldest first. */
    async listConnections(actor: ApiKeyActor, customerId: string): Promise<Connection[]> {
      const rows = await listCustomerConnections(db, actor.entityId, customerId);
      return rows.map(toConnection);
    },

    /**
     * POST /connections/{id}/token: a 15-minute token for this connection and
     * scope. A disconnected connection can still be read (access) but never
     * linked again (link → 409).
     */
    async issueToken(actor: ApiKeyActor, connectionId: string, scope: ConnectionTokenScope): Promise<string> {
      const c = await findOwned(db, actor.entityId, connectionId);
      if (scope === "link" && c.status === "disconnected") throw disconnected(connectionId);
      const { token, claims } = tokens.issue({ connectionId: c.id, entityId: c.entity_id, scope });
      await db.transaction().execute(async (trx) => {
        // A new link gets a fresh allowance of login attempts on the link page.
        if (scope === "link") await setConnectionFields(trx, c.id, { link_attempts: 0 });
        await recordChange(trx, {
          entityId: actor.entityId,
          actor: auditActorOf(actor),
          action: "connection.token_issued",
          target: { type: "connection", id: c.id },
          changes: { scope: { before: null, after: scope }, token_id: { before: null, after: claims.tokenId } },
          at: clock.now(),
        });
      });
      return token;
    },

    /**
     * Checks the connection token presented for `connectionId` by `actor`:
     * genuine and unexpired (else 401), issued for this very connection and
     * with scope access (else 403). A token of another entity reads as a
     * connection that does not exist (404), whatever it names.
     */
    authorizeAccess(actor: ApiKeyActor, connectionId: string | null, presented: string | null): ConnectionGrant {
      if (!presented) {
        throw new AuthenticationError(
          "missing_connection_token",
          "No connection token was sent.",
          "Send `Authorization: Bearer <connection_token>` with an access token from POST /connections/{connection_id}/token.",
        );
      }
      const claims = tokens.verify(presented);
      // Routes without a connection in the path (GET /purchases) act on the token's own connection.
      connectionId ??= claims.connectionId;
      if (claims.entityId !== actor.entityId) throw connectionNotFound(connectionId);
      if (claims.connectionId !== connectionId) {
        throw new PermissionError("token_connection_mismatch", "This connection token was issued for another connection.");
      }
      if (claims.scope !== "access") {
        throw new PermissionError("token_scope_mismatch", `This is a ${claims.scope} token; reading or changing a connection needs a token of scope access.`);
      }
      return { connectionId, entityId: claims.entityId, tokenId: claims.tokenId };
    },

    async getConnection(grant: ConnectionGrant): Promise<Connection> {
      return toConnection(await findOwned(db, grant.entityId, grant.connectionId));
    },

    /**
     * PATCH /connections/{id} (seed 003). `status: "disconnected"` is terminal:
     * the sealed login is destroyed and the event emitted once. Contact fields
     * stay editable after a disconnect (the record remains for bookkeeping);
     * repeating the disconnect is a no-op.
     */
    /**
     * The first statement updateConnection and deleteConnection make: the
     * connection row, locked. The idempotency claim sends it ahead with
     * itself (db/lookahead.ts), one round trip for both.
     */
    firstWriteStatement(grant: ConnectionGrant): CompiledQuery {
      return ownedConnectionStatement(db, grant.entityId, grant.connectionId, true);
    },

    async updateConnection(actor: ApiKeyActor, grant: ConnectionGrant, input: UpdateConnectionInput): Promise<Connection> {
      return db.transaction().execute(async (trx) => {
        const existing = await findOwned(trx, grant.entityId, grant.connectionId, true);
        const now = clock.now();
        const set: ConnectionUpdate = {};
        if (input.customer_id != null && input.customer_id !== existing.customer_id) set.customer_id = input.customer_id;
        if (input.email !== undefined && input.email !== existing.email) set.email = input.email;
        if (input.mobile !== undefined && input.mobile !== existing.mobile) set.mobile = input.mobile;
        const disconnecting = input.status === "disconnected" && existing.status !== "disconnected";
        if (disconnecting) Object.assign(set, { status: "disconnected", disconnected_at: now });
        if (Object.keys(set).length === 0) return toConnection(existing);
        if (disconnecting) await vault.destroySecret(trx, loginPlace(existing));

        const updated = await updateConnection(trx, existing.id, { ...set, updated_at: now });
        const view = toConnection(updated);
        const [action, event] = disconnecting ? (["connection.disconnected", "connection.disconnected"] as const) : (["connection.updated", undefined] as const);
        await recordConnectionChange(trx, { actor: auditActorOf(actor), action, event, before: existing, after: updated, fields: ["customer_id", "email", "mobile", "status"], at: now });
        return view;
      });
    },

    /**
     * DELETE /connections/{id} (Subtotal's Delete Connection): the connection
     * is gone, with its sealed login and its purchases (ON DELETE CASCADE);
     * `connection.deleted` carries its last state. Unlike a disconnect there
     * is nothing left to read or recover.
     */
    async deleteConnection(actor: ApiKeyActor, grant: ConnectionGrant): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const existing = await findOwned(trx, grant.entityId, grant.connectionId, true);
        const now = clock.now();
        await vault.destroySecret(trx, loginPlace(existing));
        await deleteConnectionRow(trx, existing.id);
        await recordConnectionChange(trx, { actor: auditActorOf(actor), action: "connection.deleted", event: "connection.deleted", before: existing, after: null, fields: CONNECTION_AUDIT_FIELDS, at: now });
      });
    },

    /**
     * PATCH /simulated-connections/{id} {status:"unauthenticated"}: what a
     * rejected re-check does, on demand, for testing an integration. Only an
     * active connection can lose its login; repeating it is a no-op.
     */
    async simulateUnauthenticated(actor: ApiKeyActor, connectionId: string): Promise<Connection> {
      return db.transaction().execute(async (trx) => {
        const existing = await findOwned(trx, actor.entityId, connectionId, true);
        if (existing.status === "unauthenticated") return toConnection(existing);
        if (existing.status !== "active") {
          throw new ConflictError(
            "invalid_status_transition",
            `Only an active connection can become unauthenticated; this one is ${existing.status}.`,
            existing.status === "initialized" ? "Link it first: POST /connections/{connection_id}/token {\"scope\":\"link\"}, then open /link." : undefined,
          );
        }
        return toConnection(await markUnauthenticated(trx, vault, existing, auditActorOf(actor), clock.now()));
      });
    },
  };
}

export type ConnectionService = ReturnType<typeof createConnectionService>;

export function connectionNotFound(connectionId: string): NotFoundError {
  return new NotFoundError("connection_not_found", `No connection with id ${connectionId}.`, "GET /connections?customer_id=… lists a customer's connections.");
}

export function disconnected(connectionId: string): ConflictError {
  return new ConflictError("connection_disconnected", `Connection ${connectionId} is disconnected; a disconnected connection cannot be linked again.`, "Create a new connection with POST /connections.");
}
