import type { KeyMode } from "./api-key-format.ts";
import type { Scope } from "./scopes.ts";

/** Who is calling: resolved once per request from the presented key. */
export interface ApiKeyActor {
  type: "api_key";
  keyId: string;
  entityId: string;
  mode: KeyMode;
  scopes: readonly Scope[];
  publicKey: string;
  /** The request this actor is acting in, for the audit log (set by the surface). */
  requestId?: string;
  /** The key's own limit, or its mode's default. */
  rateLimit: { perMinute: number; burst: number };
}
