import type { ConnectionTokenClaims, ConnectionTokenSigner } from "../auth/connection-tokens.ts";
import { findRetailer, type Retailer } from "../catalog/retailers.ts";
import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import type { ConnectionRecord } from "../db/schema.ts";
import { claimConnectionsDueForCheck, lockActiveConnectionAtVersion, lockConnection, releaseLinkAttempt, reserveLinkAttempt, selectOwnedConnection } from "./connection-store.ts";
import type { ProviderLogger } from "../providers/client.ts";
import type { RetailerGateway, RetailerLogin } from "../providers/retailers.ts";
import type { AuditActor } from "./audit.ts";
import { activateConnection, markUnauthenticated } from "./connection-status.ts";
import { toConnection, type Connection } from "./connection-view.ts";
import { connectionNotFound, disconnected } from "./connections.ts";
import { ConflictError, DomainError, NotConfiguredError, PermissionError } from "../kernel/errors.ts";
import { loginPlace, type LoginVault } from "./connection-status.ts";

/** What the link page shows: the connection being linked and to which retailer. */
export interface LinkSession {
  claims: ConnectionTokenClaims;
  connection: Connection;
  retailer: Retailer;
}

export type LinkOutcome =
  | { outcome: "linked"; connection: Connection; session: LinkSession }
  | { outcome: "refused"; reason: string; session: LinkSession }
  | { outcome: "unavailable"; session: LinkSession };

/** Logins the link page checks with the retailer per link token. */
export const LINK_ATTEMPTS_PER_TOKEN = 5;

export interface RecheckSummary {
  /** Connections taken from the due list in this batch. */
  claimed: number;
  checked: number;
  rejected: number;
  unavailable: number;
}

export interface ConnectionLinkingDeps {
  db: Database;
  clock: Clock;
  tokens: ConnectionTokenSigner;
  retailers: RetailerGateway;
  vault: LoginVault;
  checkIntervalMs: number;
  /** Runs in the activating transaction (queues the first purchase sync). */
  onActivated?: (trx: Database, connectionId: string) => Promise<unknown>;
}

/**
 * The customer's side of a connection: the hosted link page checks a login
 * with the retailer and seals it; the periodic re-check finds logins the
 * retailer no longer accepts.
 */
export function createConnectionLinking({ db, clock, tokens, retailers, vault, checkIntervalMs, onActivated }: ConnectionLinkingDeps) {
  /** The rules a link token must pass, checked on the page and again, under the row lock, before activating. */
  function assertLinkable(c: ConnectionRecord, claims: ConnectionTokenClaims): void {
    if (c.status === "disconnected") throw disconnected(c.id);
    // A link token opens one successful link: every token issued before the latest link is spent.
    if (c.linked_at !== null && claims.issuedAt < c.linked_at.getTime()) {
      throw new ConflictError("link_token_used", "This link has already been used to connect the account.", "Ask for a new link to connect again.");
    }
  }

  async function openSession(token: string): Promise<{ session: LinkSession; record: ConnectionRecord }> {
    const claims = tokens.verify(token);
    if (claims.scope !== "link") {
      throw new PermissionError("token_scope_mismatch", `This is a ${claims.scope} token; the link page needs a token of scope link.`);
    }
    const record = await selectOwnedConnection(db, claims.entityId, claims.connectionId);
    if (!record) throw connectionNotFound(claims.connectionId);
    assertLinkable(record, claims);
    const retailer = findRetailer(record.retailer_id);
    if (!retailer) throw connectionNotFound(claims.connectionId);
    if (!retailers.isConfigured(retailer)) {
      throw new NotConfiguredError(
        "retailer_not_configured",
        `Linking ${retailer.name} accounts is not set up on this server.`,
        `The operator sets PATCHBAY_PROVIDER_URL_RETAILERS (or PATCHBAY_PROVIDER_URL_RETAILER_${retailer.slug.toUpperCase()}).`,
      );
    }
    return { session: { claims, connection: toConnection(record), retailer }, record };
  }

  return {
    /** GET /link: the connection a link token opens, if it may be linked now. */
    async openLinkSession(token: string): Promise<LinkSession> {
      return (await openSession(token)).session;
    },

    /**
     * POST /link: checks the login with the retailer; if accepted, seals it and
     * activates the connection (event + audit in one transaction). A refusal
     * changes nothing, so the customer can try again with the same link.
     */
    async completeLink(token: string, login: RetailerLogin, logger: ProviderLogger): Promise<LinkOutcome> {
      const { session, record } = await openSession(token);
      // One attempt is reserved in the database before the retailer is asked, so parallel posts cannot exceed the allowance.
      const reserved = await reserveLinkAttempt(db, record.id, LINK_ATTEMPTS_PER_TOKEN);
      if (!reserved) {
        throw new DomainError("rate_limited", "too_many_link_attempts", "Too many login attempts with this link.", { hint: "Ask for a new link to try again." });
      }
      const check = await retailers.checkLogin(session.retailer, login, logger);
      if (check.outcome === "refused") return { outcome: "refused", reason: check.reason, session };
      if (check.outcome !== "accepted") {
        // The retailer concluded nothing: the attempt is given back.
        await releaseLinkAttempt(db, record.id);
        return { outcome: "unavailable", session };
      }

      const actor: AuditActor = { type: "system", id: `link_token:${session.claims.tokenId}` };
      const linked = await db.transaction().execute(async (trx) => {
        const current = await lockConnection(trx, record.id);
        if (!current) throw connectionNotFound(record.id);
        assertLinkable(current, session.claims);
        const activated = await activateConnection(trx, vault, current, { username: login.username, password: login.password }, actor, clock.now());
        await onActivated?.(trx, activated.id);
        return activated;
      });
      return { outcome: "linked", connection: toConnection(linked), session };
    },

    /**
     * The periodic re-check: claims up to `limit` active connections not
     * checked for `checkIntervalMs` (SKIP LOCKED, so processes share the work),
     * asks each retailer whether the sealed login still works, and marks the
     * rejected ones unauthenticated. An unreachable retailer concludes nothing.
     */
    async recheckDueConnections({ limit, logger }: { limit: number; logger: ProviderLogger }): Promise<RecheckSummary> {
      const now = clock.now();
      const cutoff = new Date(now.getTime() - checkIntervalMs);
      const claimed = await claimConnectionsDueForCheck(db, { now, cutoff, limit });

      const summary: RecheckSummary = { claimed: claimed.length, checked: 0, rejected: 0, unavailable: 0 };
      for (const c of claimed) {
        const retailer = findRetailer(c.retailer_id);
        const login = await vault.openSecret<RetailerLogin>(db, loginPlace(c));
        if (!retailer || !login) continue;
        const check = await retailers.checkLogin(retailer, login, logger);
        summary.checked += 1;
        if (check.outcome === "unavailable" || check.outcome === "not_configured") summary.unavailable += 1;
        if (check.outcome !== "refused") continue;
        const changed = await db.transaction().execute(async (trx) => {
          // Only the login we checked: a re-link since the claim bumped the version and stays active.
          const current = await lockActiveConnectionAtVersion(trx, c.id, c.credentials_version);
          if (!current) return false;
          await markUnauthenticated(trx, vault, current, { type: "system", id: "job:check-connections" }, clock.now());
          return true;
        });
        if (changed) summary.rejected += 1;
      }
      return summary;
    },
  };
}

export type ConnectionLinking = ReturnType<typeof createConnectionLinking>;
