import { createHmac, hkdfSync, randomBytes, timingSafeEqual, type KeyObject } from "node:crypto";
import type { Clock } from "../kernel/clock.ts";
import { AuthenticationError } from "../kernel/errors.ts";

/**
 * Connection tokens (SPEC §4): short-lived, signed, bound to one connection,
 * its entity and one scope. Stateless: `pbct_<payload>.<HMAC-SHA256>`, so any
 * process holding the key verifies them without a database read.
 */
export type ConnectionTokenScope = "link" | "access";
export const CONNECTION_TOKEN_SCOPES = ["link", "access"] as const;

export const CONNECTION_TOKEN_TTL_MS = 15 * 60_000;

export interface ConnectionTokenClaims {
  connectionId: string;
  entityId: string;
  scope: ConnectionTokenScope;
  /** Milliseconds since the epoch. */
  issuedAt: number;
  expiresAt: number;
  /** Random, not secret: names the token in the audit log. */
  tokenId: string;
}

const PREFIX = "pbct_";
const TOKEN_RE = /^pbct_([A-Za-z0-9_-]{20,600})\.([A-Za-z0-9_-]{43})$/;

export function createConnectionTokenSigner({ keys, clock }: { keys: readonly Buffer[]; clock: Clock }) {
  if (keys.length === 0) throw new Error("connection tokens need at least one key");
  const [signingKey] = keys as [Buffer, ...Buffer[]];
  const sign = (key: Buffer, payload: string) => createHmac("sha256", key).update(`${PREFIX}${payload}`).digest();

  return {
    issue(claims: { connectionId: string; entityId: string; scope: ConnectionTokenScope }): { token: string; claims: ConnectionTokenClaims } {
      const issuedAt = clock.now().getTime();
      const full: ConnectionTokenClaims = { ...claims, issuedAt, expiresAt: issuedAt + CONNECTION_TOKEN_TTL_MS, tokenId: randomBytes(9).toString("base64url") };
      const payload = Buffer.from(
        JSON.stringify({ c: full.connectionId, e: full.entityId, s: full.scope, iat: full.issuedAt, exp: full.expiresAt, j: full.tokenId }),
      ).toString("base64url");
      return { token: `${PREFIX}${payload}.${sign(signingKey, payload).toString("base64url")}`, claims: full };
    },

    /** The claims of a genuine, unexpired token; anything else is an AuthenticationError. */
    verify(token: string): ConnectionTokenClaims {
      const m = TOKEN_RE.exec(token);
      if (!m) throw invalidToken();
      const [, payload, signature] = m as unknown as [string, string, string];
      const presented = Buffer.from(signature, "base64url");
      if (!keys.some((key) => timingSafeEqual(sign(key, payload), presented))) throw invalidToken();
      const claims = parseClaims(payload);
      if (!claims) throw invalidToken();
      if (claims.expiresAt <= clock.now().getTime()) {
        throw new AuthenticationError("expired_connection_token", "The connection token has expired.", "Tokens live 15 minutes: create a new one with POST /connections/{connection_id}/token.");
      }
      return claims;
    },

    /** An HMAC of `parts` under the signing key, for values bound to a token (the link form's CSRF field). */
    mac(purpose: string, ...parts: string[]): string {
      const h = createHmac("sha256", signingKey).update(purpose);
      for (const p of parts) h.update("\u0000").update(p);
      return h.digest("base64url");
    },

    /** Constant-time check of a value produced by `mac`. */
    verifyMac(presented: string, purpose: string, ...parts: string[]): boolean {
      const expected = Buffer.from(this.mac(purpose, ...parts));
      const given = Buffer.from(presented);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}

export type ConnectionTokenSigner = ReturnType<typeof createConnectionTokenSigner>;

function parseClaims(payload: string): ConnectionTokenClaims | null {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    return null;
  }
  const r = raw as Record<string, unknown>;
  if (typeof r !== "object" || r === null) return null;
  if (typeof r.c !== "string" || typeof r.e !== "string" || typeof r.j !== "string") return null;
  if (r.s !== "link" && r.s !== "access") return null;
  if (typeof r.iat !== "number" || typeof r.exp !== "number") return null;
  return { connectionId: r.c, entityId: r.e, scope: r.s, issuedAt: r.iat, expiresAt: r.exp, tokenId: r.j };
}

function invalidToken(): AuthenticationError {
  return new AuthenticationError(
    "invalid_connection_token",
    "The connection token is not valid.",
    "Send `Authorization: Bearer <connection_token>` with a token from POST /connections/{connection_id}/token.",
  );
}

/**
 * The signing keys: from PATCHBAY_CONNECTION_TOKEN_SECRET when set, else
 * derived (HKDF-SHA256) from the vault's master keys — which every process
 * sharing a database already shares. The newest key signs; every key in the
 * ring verifies, so a master-key rotation does not void live tokens.
 */
export function connectionTokenKeys(config: { connectionTokenSecret: string | null }, ring: { keys: readonly { key: KeyObject }[] }): Buffer[] {
  if (config.connectionTokenSecret) return [deriveKey(Buffer.from(config.connectionTokenSecret, "utf8"))];
  return ring.keys.map((k) => deriveKey(k.key.export()));
}

function deriveKey(secret: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", secret, "patchbay", "connection-tokens v1", 32));
}
