import { findRetailer, RETAILERS, type Retailer } from "../catalog/retailers.ts";
import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import type { ConnectionRecord, LinkTokenRecord } from "../db/schema.ts";
import { insertConnection, lockConnection, lockOpenConnectionOf, selectCustomerConnection } from "./connection-store.ts";
import type { ProviderLogger } from "../providers/client.ts";
import type { RetailerGateway, RetailerLogin } from "../providers/retailers.ts";
import { diffFields, type AuditActor } from "./audit.ts";
import { recordChange } from "./record-change.ts";
import { activateConnection, type LoginVault } from "./connection-status.ts";
import { toConnection, type Connection } from "./connection-view.ts";
import { connectionNotFound, disconnected } from "./connections.ts";
import { NotConfiguredError, ValidationError } from "../kernel/errors.ts";
import { ulidAt, ULID_PATTERN } from "../kernel/ids.ts";
import type { LinkTokenService } from "./link-tokens.ts";

/** What a durable link token is opened for: one of the customer's connections (re-authentication), a retailer, or neither (choose one). */
export interface DurableTarget {
  connectionId?: string;
  retailerId?: string;
}

export type DurableSession =
  | { step: "select_retailer"; token: LinkTokenRecord; retailers: readonly Retailer[] }
  | { step: "login"; token: LinkTokenRecord; retailer: Retailer; connection: ConnectionRecord | null };

export type DurableOutcome =
  | { outcome: "linked"; connection: Connection; retailer: Retailer }
  | { outcome: "refused"; reason: string; retailer: Retailer }
  | { outcome: "unavailable"; retailer: Retailer };

export interface DurableLinkingDeps {
  db: Database;
  clock: Clock;
  retailers: RetailerGateway;
  vault: LoginVault;
  linkTokens: LinkTokenService;
  onActivated?: (trx: Database, connectionId: string) => Promise<unknown>;
}

/**
 * The hosted page opened with a durable link token (`/link?link_token=…`):
 * with `connection_id`, the customer re-authenticates that connection (an
 * unauthenticated one becomes active again); with `retailer_id`, they link
 * that retailer (their open connection to it, or a new one); with neither,
 * they first choose a retailer.
 */
export function createDurableLinking({ db, clock, retailers, vault, linkTokens, onActivated }: DurableLinkingDeps) {
  async function open(secret: string, target: DurableTarget): Promise<DurableSession> {
    const token = await linkTokens.resolve(secret);
    if (target.connectionId !== undefined) {
      const c = new RegExp(ULID_PATTERN).test(target.connectionId)
        ? await selectCustomerConnection(db, { id: target.connectionId, entityId: token.entity_id, customerId: token.customer_id })
        : undefined;
      // Another customer's connection is as unknown as a missing one.
      if (!c) throw connectionNotFound(target.connectionId);
      if (c.status === "disconnected") throw disconnected(c.id);
      return { step: "login", token, retailer: configured(findRetailer(c.retailer_id)!), connection: c };
    }
    if (target.retailerId !== undefined) {
      const retailer = findRetailer(target.retailerId);
      if (!retailer) throw new ValidationError(`Unknown retailer_id "${target.retailerId}".`, { param: "retailer_id" });
      return { step: "login", token, retailer: configured(retailer), connection: null };
    }
    return { step: "select_retailer", token, retailers: RETAILERS.filter((r) => retailers.isConfigured(r)) };
  }

  function configured(retailer: Retailer): Retailer {
    if (!retailers.isConfigured(retailer)) {
      throw new NotConfiguredError("retailer_not_configured", `Linking ${retailer.name} accounts is not set up on this server.`, "The operator sets PATCHBAY_PROVIDER_URL_RETAILERS.");
    }
    return retailer;
  }

  return {
    openDurableSession: open,

    async completeDurableLink(secret: string, target: DurableTarget, login: RetailerLogin, logger: ProviderLogger): Promise<DurableOutcome> {
      const session = await open(secret, target);
      if (session.step !== "login") throw new ValidationError("Choose a retailer first.", { param: "retailer_id" });
      const { token, retailer } = session;
      await linkTokens.reserveAttempt(token);
      const check = await retailers.checkLogin(retailer, login, logger);
      if (check.outcome === "refused") return { outcome: "refused", reason: check.reason, retailer };
      if (check.outcome !== "accepted") return { outcome: "unavailable", retailer };

      const actor: AuditActor = { type: "system", id: `link_token:${token.id}` };
      const linked = await db.transaction().execute(async (trx) => {
        const now = clock.now();
        const current = session.connection
          ? await lockConnection(trx, session.connection.id)
          : await openConnectionOf(trx, token, retailer, actor, now);
        if (!current) throw connectionNotFound(session.connection!.id);
        if (current.status === "disconnected") throw disconnected(current.id);
        const activated = await activateConnection(trx, vault, current, { username: login.username, password: login.password }, actor, now);
        await onActivated?.(trx, activated.id);
        return activated;
      });
      return { outcome: "linked", connection: toConnection(linked), retailer };
    },
  };
}

export type DurableLinking = ReturnType<typeof createDurableLinking>;

/**
 * The customer's open (not disconnected) connection to the retailer, newest
 * first, locked; else a new one, `initialized`, created as POST /connections
 * would. One connection per customer and retailer, however often they link.
 */
async function openConnectionOf(trx: Database, token: LinkTokenRecord, retailer: Retailer, actor: AuditActor, now: Date): Promise<ConnectionRecord> {
  const existing = await lockOpenConnectionOf(trx, { entityId: token.entity_id, customerId: token.customer_id, retailerId: retailer.id });
  if (existing) return existing;
  const created = await insertConnection(trx, { id: ulidAt(now), entity_id: token.entity_id, customer_id: token.customer_id, retailer_id: retailer.id, email: null, mobile: null, status: "initialized", created_at: now, updated_at: now });
  await recordChange(trx, {
    entityId: token.entity_id,
    actor,
    action: "connection.created",
    target: { type: "connection", id: created.id },
    changes: diffFields(null, toConnection(created), ["customer_id", "retailer_id", "status", "email", "mobile"]),
    at: now,
  });
  return created;
}
