import { createCipheriv, createDecipheriv, randomBytes, type KeyObject } from "node:crypto";
import type { MasterKey } from "../config.ts";

/**
 * Envelope encryption, nothing else: a secret is sealed with AES-256-GCM
 * under a fresh 256-bit data key, and the data key is sealed (wrapped) with
 * AES-256-GCM under a master key from the ring. Both seals carry additional
 * authenticated data naming the secret's place, so bytes copied to another
 * place do not open. Rotating a master key rewraps the small data key only.
 *
 * Byte layout of both sealed values: version (1) | iv (12) | tag (16) | ciphertext.
 */

export interface SealedEnvelope {
  masterKeyId: string;
  wrappedKey: Buffer;
  ciphertext: Buffer;
}

/** Why a sealed value would not open. The message never holds key material or plaintext. */
export class VaultError extends Error {
  constructor(
    readonly code: "master_key_missing" | "does_not_open",
    message: string,
  ) {
    super(message);
    this.name = "VaultError";
  }
}

/** The master keys, newest first: the newest seals, any of them opens. */
export class KeyRing {
  readonly newest: MasterKey;
  private readonly byId: Map<string, MasterKey>;

  constructor(readonly keys: readonly MasterKey[]) {
    if (keys.length === 0) throw new Error("a key ring needs at least one master key");
    this.newest = keys[0]!;
    this.byId = new Map(keys.map((k) => [k.id, k]));
  }

  get ids(): string[] {
    return this.keys.map((k) => k.id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  key(id: string): KeyObject {
    const k = this.byId.get(id);
    if (!k) {
      throw new VaultError(
        "master_key_missing",
        `This secret is sealed under master key "${id}", which is not in PATCHBAY_MASTER_KEYS (configured: ${this.ids.join(", ")}). ` +
          "Add that key back to the ring, then run `npx patchbay vault rewrap` before removing it.",
      );
    }
    return k.key;
  }
}

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER = 1 + IV_BYTES + TAG_BYTES;

function gcmSeal(key: KeyObject | Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
}

function gcmOpen(key: KeyObject | Buffer, sealed: Buffer, aad: Buffer, what: string): Buffer {
  if (sealed.length < HEADER || sealed[0] !== VERSION) throw new VaultError("does_not_open", `The ${what} is malformed.`);
  const decipher = createDecipheriv("aes-256-gcm", key, sealed.subarray(1, 1 + IV_BYTES));
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(1 + IV_BYTES, HEADER));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(HEADER)), decipher.final()]);
  } catch {
    throw new VaultError("does_not_open", `The ${what} does not open: it was altered, or it belongs to another place.`);
  }
}

function wrapAad(masterKeyId: string, aad: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`patchbay.vault.v1.data-key\0${masterKeyId}\0`), aad]);
}

/** Seals `plaintext` for the place `aad` names, under the ring's newest key. */
export function sealEnvelope(ring: KeyRing, aad: Buffer, plaintext: Buffer): SealedEnvelope {
  const dataKey = randomBytes(32);
  try {
    const ciphertext = gcmSeal(dataKey, plaintext, aad);
    const wrappedKey = gcmSeal(ring.newest.key, dataKey, wrapAad(ring.newest.id, aad));
    return { masterKeyId: ring.newest.id, wrappedKey, ciphertext };
  } finally {
    dataKey.fill(0);
  }
}

/** Opens a sealed secret; throws VaultError when its key is gone or it does not belong to `aad`. */
export function openEnvelope(ring: KeyRing, aad: Buffer, sealed: SealedEnvelope): Buffer {
  const dataKey = gcmOpen(ring.key(sealed.masterKeyId), sealed.wrappedKey, wrapAad(sealed.masterKeyId, aad), "wrapped data key");
  try {
    return gcmOpen(dataKey, sealed.ciphertext, aad, "sealed secret");
  } finally {
    dataKey.fill(0);
  }
}

/** Re-seals the data key under the ring's newest key; the secret's ciphertext is untouched. */
export function rewrapEnvelope(ring: KeyRing, aad: Buffer, sealed: SealedEnvelope): SealedEnvelope {
  const dataKey = gcmOpen(ring.key(sealed.masterKeyId), sealed.wrappedKey, wrapAad(sealed.masterKeyId, aad), "wrapped data key");
  try {
    // Prove the pair still opens before committing to the new wrap.
    gcmOpen(dataKey, sealed.ciphertext, aad, "sealed secret");
    return { masterKeyId: ring.newest.id, wrappedKey: gcmSeal(ring.newest.key, dataKey, wrapAad(ring.newest.id, aad)), ciphertext: sealed.ciphertext };
  } finally {
    dataKey.fill(0);
  }
}
