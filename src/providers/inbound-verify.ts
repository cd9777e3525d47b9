import { createHash, createHmac, createPublicKey, timingSafeEqual, verify as verifySignature, type JsonWebKey, type KeyObject } from "node:crypto";

/**
 * How a provider's webhook POST proves where it came from, one function per
 * scheme the catalog declares (InboundWebhookScheme). Each returns null when
 * the delivery is authentic, or why not. Pure but for Plaid's key fetch.
 */

export type Refusal = { code: "webhook_signature_missing" | "webhook_signature_invalid" | "webhook_timestamp_stale" | "webhook_secret_missing"; message: string };

/** Stripe's and Plaid's window for a signature's time, either way (docs: 5 minutes). */
export const SIGNATURE_TOLERANCE_S = 300;

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const missing = (message: string): Refusal => ({ code: "webhook_signature_missing", message });
const invalid = (message: string): Refusal => ({ code: "webhook_signature_invalid", message });
const stale = (message: string): Refusal => ({ code: "webhook_timestamp_stale", message });

/** Stripe-Signature: `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, one or more v1 (a rolled secret signs twice). */
export function verifyStripe(header: string | undefined, raw: Buffer, secret: string, nowS: number): Refusal | null {
  if (!header) return missing("The Stripe-Signature header is missing.");
  let t: string | undefined;
  const v1: string[] = [];
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === "t") t = v;
    else if (k === "v1") v1.push(v);
  }
  if (!t || !/^\d{1,12}$/.test(t) || v1.length === 0) return missing("The Stripe-Signature header has no t= and v1= parts.");
  const expected = createHmac("sha256", secret).update(`${t}.`).update(raw).digest("hex");
  if (!v1.some((s) => sameText(s, expected))) return invalid("No v1 signature matches the body and the stored webhook secret.");
  if (Math.abs(nowS - Number(t)) > SIGNATURE_TOLERANCE_S) return stale(`The signature's timestamp is more than ${SIGNATURE_TOLERANCE_S} s away from now.`);
  return null;
}

/** X-Shopify-Hmac-Sha256: base64 HMAC-SHA256(secret, raw body). Shopify signs no time: a replay is caught by its event id. */
export function verifyShopify(header: string | undefined, raw: Buffer, secret: string): Refusal | null {
  if (!header) return missing("The X-Shopify-Hmac-Sha256 header is missing.");
  const expected = createHmac("sha256", secret).update(raw).digest("base64");
  return sameText(header, expected) ? null : invalid("X-Shopify-Hmac-Sha256 does not match the body and the stored webhook secret.");
}

/** HTTP Basic credentials set on the provider's webhook (Postmark): user:password must equal the stored secret. */
export function verifyBasicAuth(header: string | undefined, secret: string): Refusal | null {
  const m = header ? /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header) : null;
  if (!m) return missing("HTTP Basic credentials are missing.");
  return sameText(Buffer.from(m[1]!, "base64").toString("utf8"), secret) ? null : invalid("The HTTP Basic credentials do not match the stored webhook secret.");
}

/** ?token=… on the registered URL (Shippo's self-generated token) must equal the stored secret. */
export function verifyQueryToken(token: string | undefined, secret: string): Refusal | null {
  if (!token) return missing("The token query parameter is missing.");
  return sameText(token, secret) ? null : invalid("The token query parameter does not match the stored webhook secret.");
}

/** A JWK Plaid's key endpoint answered, opened once; expired keys verify nothing. */
interface PlaidKey {
  key: KeyObject;
  expired: boolean;
}

/** Fetches the JWK for a kid (POST /webhook_verification_key/get); null when the provider does not know it. */
export type PlaidKeyFetcher = (kid: string) => Promise<(JsonWebKey & { expired_at?: number | null }) | null>;

function b64urlJson(part: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return v && typeof v === "object" && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

/**
 * Plaid-Verification: a JWT (ES256 only) whose kid names a key from Plaid's
 * key endpoint; its iat within 5 minutes; its request_body_sha256 the hex
 * SHA-256 of the raw body. Keys are public: each process keeps the ones it
 * fetched (a cache miss costs one provider call; an unknown kid is fetched
 * once per delivery and refused).
 */
export function createPlaidVerifier() {
  const keys = new Map<string, PlaidKey>();
  return async function verifyPlaid(jwt: string | undefined, raw: Buffer, nowS: number, fetchKey: PlaidKeyFetcher): Promise<Refusal | null> {
    if (!jwt) return missing("The Plaid-Verification header is missing.");
    const parts = jwt.split(".");
    if (parts.length !== 3) return invalid("Plaid-Verification is not a JWT.");
    const header = b64urlJson(parts[0]!);
    const claims = b64urlJson(parts[1]!);
    if (!header || !claims) return invalid("Plaid-Verification is not a JWT.");
    if (header.alg !== "ES256" || typeof header.kid !== "string" || header.kid.length === 0 || header.kid.length > 200) return invalid("Plaid-Verification must be an ES256 JWT with a kid.");
    let key = keys.get(header.kid);
    if (!key) {
      const jwk = await fetchKey(header.kid);
      if (!jwk) return invalid("Plaid does not know the JWT's key id.");
      try {
        key = { key: createPublicKey({ key: jwk as JsonWebKey, format: "jwk" }), expired: jwk.expired_at != null };
      } catch {
        return invalid("Plaid's key endpoint answered a key that cannot be read.");
      }
      if (keys.size > 100) keys.clear();
      keys.set(header.kid, key);
    }
    if (key.expired) return invalid("The JWT's key has expired.");
    const ok = verifySignature("sha256", Buffer.from(`${parts[0]}.${parts[1]}`), { key: key.key, dsaEncoding: "ieee-p1363" }, Buffer.from(parts[2]!, "base64url"));
    if (!ok) return invalid("The Plaid-Verification signature does not verify.");
    if (typeof claims.iat !== "number" || Math.abs(nowS - claims.iat) > SIGNATURE_TOLERANCE_S) return stale(`The JWT was issued more than ${SIGNATURE_TOLERANCE_S} s away from now.`);
    const digest = createHash("sha256").update(raw).digest("hex");
    if (typeof claims.request_body_sha256 !== "string" || !sameText(claims.request_body_sha256, digest)) return invalid("The JWT's request_body_sha256 does not match the body.");
    return null;
  };
}
