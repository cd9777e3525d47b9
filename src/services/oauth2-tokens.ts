import { createHash } from "node:crypto";
import type { ApiKeyActor } from "../auth/actor.ts";
import type { Database } from "../db/index.ts";
import type { Clock } from "../kernel/clock.ts";
import { randomBase62, uuidv7 } from "../kernel/ids.ts";

/**
 * OAuth2 client credentials for /api/v3 (the Sendcloud v3 spec's
 * OAuth2ClientCreds scheme, RFC 6749 §4.4): a key's public id and secret are
 * exchanged for a bearer token that acts as that key, with the one scope the
 * spec defines, `api`, for OAUTH2_TOKEN_TTL_SECONDS. This store owns the
 * oauth2_access_tokens table; admission (services/admission.ts) reads a
 * token's key in its one statement.
 */
export const OAUTH2_SCOPE = "api";
export const OAUTH2_TOKEN_TTL_SECONDS = 3600;

const TOKEN_RE = /^oat_[0-9A-Za-z]{43}$/;

/** Cheap shape check before any database work. */
export function looksLikeAccessToken(value: string): boolean {
  return TOKEN_RE.test(value);
}

export function hashAccessToken(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

export interface IssuedToken {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  scope: typeof OAUTH2_SCOPE;
}

export function createOAuth2TokenStore({ db, clock }: { db: Database; clock: Clock }) {
  return {
    /** A new token for the (already authenticated) key; the token is in this return value only, ever. */
    async issue(actor: ApiKeyActor): Promise<IssuedToken> {
      const now = clock.now();
      const token = `oat_${randomBase62(43)}`;
      await db.transaction().execute(async (trx) => {
        // The key's expired tokens go as it gets a new one: the table holds live tokens, give or take one per key.
        await trx.deleteFrom("oauth2_access_tokens").where("api_key_id", "=", actor.keyId).where("expires_at", "<=", now).execute();
        await trx
          .insertInto("oauth2_access_tokens")
          .values({
            id: uuidv7(now),
            api_key_id: actor.keyId,
            token_hash: hashAccessToken(token),
            scope: OAUTH2_SCOPE,
            expires_at: new Date(now.getTime() + OAUTH2_TOKEN_TTL_SECONDS * 1000),
            created_at: now,
          })
          .execute();
      });
      return { access_token: token, token_type: "Bearer", expires_in: OAUTH2_TOKEN_TTL_SECONDS, scope: OAUTH2_SCOPE };
    },
  };
}

export type OAuth2TokenStore = ReturnType<typeof createOAuth2TokenStore>;
