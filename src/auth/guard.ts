import type { ApiKeyActor } from "./actor.ts";
import { PermissionError } from "../kernel/errors.ts";
import type { Scope } from "./scopes.ts";

/** A key may do what its scopes say, nothing more. */
export function assertScope(actor: ApiKeyActor, required: Scope): void {
  if (!actor.scopes.includes(required)) {
    throw new PermissionError("insufficient_scope", `This API key lacks the "${required}" scope.`, {
      hint: `Create a key with the ${required} scope (npx patchbay keys create --scopes ${required}).`,
      meta: { required },
    });
  }
}

/** `Bearer <token>`, also tolerating `Bearer: <token>`; null when absent or another scheme. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer:?\s+(\S+)\s*$/i.exec(header);
  return m?.[1] ?? null;
}
