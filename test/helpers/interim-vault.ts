import type { GrantVault, SecretPlace } from "../../src/services/shopify-grants.ts";

/**
 * TEMPORARY stand-in for the vault (branch `vault`) until it reaches main:
 * keeps each secret per (owner, purpose) in memory. Replaced by the real
 * vault, and deleted, when main has it.
 */
export function interimVault(): GrantVault {
  const secrets = new Map<string, string>();
  const key = (p: SecretPlace) => `${p.entityId}/${p.ownerId}/${p.purpose}`;
  return {
    async sealSecret(_db, place, value) {
      secrets.set(key(place), JSON.stringify(value));
      return key(place);
    },
    async openSecret<T>(_db: unknown, place: SecretPlace) {
      const v = secrets.get(key(place));
      return v === undefined ? null : (JSON.parse(v) as T);
    },
  };
}
