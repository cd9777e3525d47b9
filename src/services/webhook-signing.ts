import { createHmac, randomBytes } from "node:crypto";
import type { SecretPlace } from "../vault/vault.ts";
import { randomBase62 } from "../kernel/ids.ts";

/** Vault purposes of an endpoint's signing secrets (part of each blob's authenticated data). */
export const SIGNING_SECRET_PURPOSE = "webhook_endpoint.signing_secret";
export const PREVIOUS_SIGNING_SECRET_PURPOSE = "webhook_endpoint.previous_signing_secret";

/** How long the previous secret keeps signing after a rotation. */
export const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;

export function signingSecretPlace(endpoint: { id: string; entity_id: string }, purpose: string): SecretPlace {
  return { entityId: endpoint.entity_id, ownerId: endpoint.id, purpose };
}

/** `whsec_` + 64 hex characters (256 bits), the format of docs.arcuserp.com's webhook secrets. The HMAC key is the whole string, as UTF-8. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString("hex")}`;
}

/**
 * `Arcus-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
 * one v1 per secret (two during a rotation's overlap).
 */
export function signatureHeader(secrets: readonly string[], timestamp: number, body: string): string {
  const signed = `${timestamp}.${body}`;
  return [`t=${timestamp}`, ...secrets.map((s) => `v1=${createHmac("sha256", s).update(signed).digest("hex")}`)].join(",");
}

/**
 * Subtotal's scheme (docs.subtotal.com webhooks/verifying-signatures):
 * X-Subtotal-Signature = hex HMAC-SHA256, keyed with the destination's signing
 * secret, of `<X-Subtotal-Timestamp>.<raw body>`; the timestamp is unix seconds.
 */
export function subtotalSignature(secret: string, timestamp: number, body: string): string {
  return createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
}
