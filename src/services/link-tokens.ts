import { createHash } from "node:crypto";
import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import type { LinkTokenRecord } from "../db/schema.ts";
import type { ApiKeyActor } from "../auth/actor.ts";
import { auditActorOf } from "./audit.ts";
import { recordChange } from "./record-change.ts";
import { AuthenticationError, DomainError, NotFoundError } from "../kernel/errors.ts";
import { randomBase62, ulidAt, ULID_PATTERN } from "../kernel/ids.ts";

/** Lifetimes in days (issue 18): 30 unless asked, 1 to 365. */
export const LINK_TOKEN_DAYS = { default: 30, min: 1, max: 365 } as const;
/** Logins the link page checks with the retailer per durable token, per rolling hour. */
export const LINK_TOKEN_ATTEMPTS_PER_HOUR = 5;

/** The one shape in which a durable link token leaves the service; its secret never does, but once. */
export interface LinkToken {
  link_token_id: string;
  customer_id: string;
  expires_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
  created_at: string;
}

export type LinkTokenWithSecret = LinkToken & { link_token: string };

export function toLinkToken(r: LinkTokenRecord): LinkToken {
  return {
    link_token_id: r.id,
    customer_id: r.customer_id,
    expires_at: r.expires_at.toISOString(),
    revoked_at: r.revoked_at?.toISOString() ?? null,
    last_used_at: r.last_used_at?.toISOString() ?? null,
    created_at: r.created_at.toISOString(),
  };
}

const hashOf = (secret: string) => createHash("sha256").update(secret).digest("hex");

/**
 * Durable link tokens: a customer's standing invitation to the hosted link
 * page (any retailer, or re-authenticating one of their connections), valid
 * for days. Only the SHA-256 of the secret is stored; it is shown once.
 */
export function createLinkTokenService({ db, clock }: { db: Database; clock: Clock }) {
  return {
    async createLinkToken(actor: ApiKeyActor, input: { customer_id: string; expires_in_days?: number }): Promise<LinkTokenWithSecret> {
      const now = clock.now();
      const days = input.expires_in_days ?? LINK_TOKEN_DAYS.default;
      const secret = `ltk_${randomBase62(40)}`;
      return db.transaction().execute(async (trx) => {
        const row = await trx
          .insertInto("link_tokens")
          .values({ id: ulidAt(now), entity_id: actor.entityId, customer_id: input.customer_id, token_hash: hashOf(secret), expires_at: new Date(now.getTime() + days * 86_400_000), revoked_at: null, last_used_at: null, attempts_since: null, created_at: now })
          .returningAll()
          .executeTakeFirstOrThrow();
        const view = toLinkToken(row);
        await recordChange(trx, { entityId: actor.entityId, actor: auditActorOf(actor), action: "link_token.created", target: { type: "link_token", id: row.id }, changes: { customer_id: { before: null, after: view.customer_id }, expires_at: { before: null, after: view.expires_at } }, at: now });
        return { ...view, link_token: secret };
      });
    },

    /** GET /link-tokens?customer_id=…: that customer's tokens (revoked and expired ones too), oldest first. */
    async listLinkTokens(actor: ApiKeyActor, customerId: string): Promise<LinkToken[]> {
      const rows = await db.selectFrom("link_tokens").selectAll().where("entity_id", "=", actor.entityId).where("customer_id", "=", customerId).orderBy("id").execute();
      return rows.map(toLinkToken);
    },

    /** DELETE /link-tokens/{id}: the token stops opening the link page at once. Revoking twice keeps the first time. */
    async revokeLinkToken(actor: ApiKeyActor, id: string): Promise<LinkToken> {
      if (!new RegExp(ULID_PATTERN).test(id)) throw linkTokenNotFound(id);
      const now = clock.now();
      return db.transaction().execute(async (trx) => {
        const existing = await trx.selectFrom("link_tokens").selectAll().where("id", "=", id).where("entity_id", "=", actor.entityId).forUpdate().executeTakeFirst();
        if (!existing) throw linkTokenNotFound(id);
        if (existing.revoked_at !== null) return toLinkToken(existing);
        const row = await trx.updateTable("link_tokens").set({ revoked_at: now }).where("id", "=", id).returningAll().executeTakeFirstOrThrow();
        await recordChange(trx, {
          entityId: actor.entityId,
          actor: auditActorOf(actor),
          action: "link_token.revoked",
          target: { type: "link_token", id },
          changes: { revoked_at: { before: null, after: now.toISOString() } },
          at: now,
        });
        return toLinkToken(row);
      });
    },

    /** The token a link page was opened with, if it is still good (not expired, not revoked). */
    async resolve(secret: string): Promise<LinkTokenRecord> {
      const row = secret.startsWith("ltk_") ? await db.selectFrom("link_tokens").selectAll().where("token_hash", "=", hashOf(secret)).executeTakeFirst() : undefined;
      if (!row || row.revoked_at !== null || row.expires_at <= clock.now()) {
        throw new AuthenticationError("invalid_link_token", "This link is invalid, has expired or was revoked.", "Ask for a new link.");
      }
      return row;
    },

    /** Reserves one login check for the token in its rolling hour; refuses past the allowance (in the database, so across processes). */
    async reserveAttempt(row: LinkTokenRecord): Promise<void> {
      const now = clock.now();
      const hourAgo = new Date(now.getTime() - 3_600_000);
      const reserved = await db
        .updateTable("link_tokens")
        .set((eb) => ({
          link_attempts: eb.case().when("attempts_since", "is", null).then(1).when("attempts_since", "<=", hourAgo).then(1).else(eb("link_attempts", "+", 1)).end(),
          attempts_since: eb.case().when("attempts_since", "is", null).then(now).when("attempts_since", "<=", hourAgo).then(now).else(eb.ref("attempts_since")).end(),
          last_used_at: now,
        }))
        .where("id", "=", row.id)
        .where((eb) => eb.or([eb("link_attempts", "<", LINK_TOKEN_ATTEMPTS_PER_HOUR), eb("attempts_since", "is", null), eb("attempts_since", "<=", hourAgo)]))
        .returning("id")
        .executeTakeFirst();
      if (!reserved) {
        throw new DomainError("rate_limited", "too_many_link_attempts", "Too many login attempts with this link.", { hint: "Try again in an hour." });
      }
    },
  };
}

export type LinkTokenService = ReturnType<typeof createLinkTokenService>;

export function linkTokenNotFound(id: string): NotFoundError {
  return new NotFoundError("link_token_not_found", `No link token with id ${JSON.stringify(id)}.`, "GET /link-tokens?customer_id=… lists them.");
}
