import type { Clock } from "../clock.ts";
import type { Database } from "../db/index.ts";
import type { ApiKeyRecord } from "../db/schema.ts";
import { generateApiKey, generatePublicKey, hashApiKey, looksLikeApiKey, type KeyMode } from "../auth/api-key-format.ts";
import { isScope, type Scope } from "../auth/scopes.ts";
import type { EntityService } from "./entities.ts";
import { AuthenticationError, NotFoundError, ValidationError } from "./errors.ts";
import { uuidv7 } from "./ids.ts";

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
}

export interface ApiKeyView {
  id: string;
  entity_id: string;
  name: string;
  mode: KeyMode;
  scopes: string[];
  public_key: string;
  key_prefix: string;
  created_at: string;
  revoked_at: string | null;
}

export function toApiKey(k: ApiKeyRecord): ApiKeyView {
  return {
    id: k.id,
    entity_id: k.entity_id,
    name: k.name,
    mode: k.mode,
    scopes: k.scopes,
    public_key: k.public_key,
    key_prefix: k.key_prefix,
    created_at: k.created_at.toISOString(),
    revoked_at: k.revoked_at?.toISOString() ?? null,
  };
}

export interface NewApiKeyInput {
  name: string;
  mode: KeyMode;
  scopes: string[];
}

export function createApiKeyService({ db, clock, entities }: { db: Database; clock: Clock; entities: EntityService }) {
  function actorOf(k: ApiKeyRecord): ApiKeyActor {
    return { type: "api_key", keyId: k.id, entityId: k.entity_id, mode: k.mode, scopes: k.scopes as Scope[], publicKey: k.public_key };
  }

  return {
    /** Creates a key; the secret is in this return value and nowhere else, ever. */
    async createApiKey(entityId: string, input: NewApiKeyInput): Promise<ApiKeyView & { key: string }> {
      const unknown = input.scopes.filter((s) => !isScope(s));
      if (unknown.length > 0) {
        throw new ValidationError(`Unknown scope "${unknown[0]}".`, {
          param: "scopes",
          hint: "Scopes are integrations:read, integrations:write, connections:read, connections:write, webhooks:manage, audit:read.",
        });
      }
      await entities.requireEntity(entityId);
      const now = clock.now();
      const secret = generateApiKey(input.mode);
      const record = await db
        .insertInto("api_keys")
        .values({
          id: uuidv7(now),
          entity_id: entityId,
          name: input.name,
          mode: input.mode,
          scopes: [...new Set(input.scopes)],
          key_prefix: secret.prefix,
          key_hash: secret.hash,
          public_key: generatePublicKey(input.mode),
          created_at: now,
          revoked_at: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return { ...toApiKey(record), key: secret.key };
    },

    async listApiKeys(entityId: string): Promise<ApiKeyView[]> {
      await entities.requireEntity(entityId);
      const rows = await db.selectFrom("api_keys").selectAll().where("entity_id", "=", entityId).orderBy("id").execute();
      return rows.map(toApiKey);
    },

    async revokeApiKey(id: string): Promise<ApiKeyView> {
      const row = await db
        .updateTable("api_keys")
        .set({ revoked_at: clock.now() })
        .where("id", "=", id)
        .where("revoked_at", "is", null)
        .returningAll()
        .executeTakeFirst();
      if (row) return toApiKey(row);
      const existing = await db.selectFrom("api_keys").selectAll().where("id", "=", id).executeTakeFirst();
      if (!existing) throw new NotFoundError("api_key_not_found", `No API key with id ${id}.`);
      return toApiKey(existing);
    },

    /**
     * Resolves a presented secret to its actor. Looked up in the database on
     * every request, so a revocation is seen at once by every process.
     */
    async authenticate(presented: string): Promise<ApiKeyActor> {
      if (!looksLikeApiKey(presented)) throw invalidKey();
      const k = await db
        .selectFrom("api_keys")
        .selectAll()
        .where("key_hash", "=", hashApiKey(presented))
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      if (!k) throw invalidKey();
      return actorOf(k);
    },

    /** HTTP Basic (public key + secret): both must name the same live key. */
    async authenticatePair(publicKey: string, presented: string): Promise<ApiKeyActor> {
      const actor = await this.authenticate(presented);
      if (actor.publicKey !== publicKey) throw invalidKey();
      return actor;
    },
  };
}

function invalidKey(): AuthenticationError {
  return new AuthenticationError(
    "invalid_api_key",
    "The API key is not valid: it is malformed, unknown or revoked.",
    "Create a key with `npx patchbay keys create` and send it as `Authorization: Bearer ark_…`.",
  );
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
