import { sql } from "kysely";
import type { Clock } from "../kernel/clock.ts";
import type { Config } from "../config.ts";
import type { Database } from "../db/index.ts";
import type { ApiKeyRecord } from "../db/schema.ts";
import { generateApiKey, generatePublicKey, hashApiKey, looksLikeApiKey, type KeyMode } from "../auth/api-key-format.ts";
import { isScope, SCOPES, type Scope } from "../auth/scopes.ts";
import { diffFields, type AuditActor } from "./audit.ts";
import { recordChange } from "./record-change.ts";
import type { EntityService } from "./entities.ts";
import { AuthenticationError, ConflictError, NotFoundError, ValidationError } from "../kernel/errors.ts";
import { uuidv7 } from "../kernel/ids.ts";
import type { ApiKeyActor } from "../auth/actor.ts";

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
  /** The last request the key made, from the request log's batches (lags by up to PATCHBAY_REQUEST_LOG_FLUSH_MS); null: never used. */
  last_used_at: string | null;
  /** In force for this key: its own override, else the mode's default. */
  rate_limit: { per_minute: number; burst: number };
  rate_limit_tier: RateLimitTier;
}

/** docs.arcuserp.com/concepts/rate-limits: live keys' elevated tier (the standard one and the test one are the configured defaults). */
export const ELEVATED_RATE_LIMIT = { perMinute: 1200, burst: 100 } as const;
export type RateLimitTier = "test" | "standard" | "elevated" | "custom";

function tierOf(mode: KeyMode, limit: { perMinute: number; burst: number }, defaults: RateLimitDefaults): RateLimitTier {
  const is = (l: { perMinute: number; burst: number }) => l.perMinute === limit.perMinute && l.burst === limit.burst;
  if (mode === "test") return is(defaults.test) ? "test" : "custom";
  if (is(defaults.live)) return "standard";
  return is(ELEVATED_RATE_LIMIT) ? "elevated" : "custom";
}

export type RateLimitDefaults = Config["rateLimits"];

export function effectiveRateLimit(k: Pick<ApiKeyRecord, "mode" | "rate_limit_per_minute" | "rate_limit_burst">, defaults: RateLimitDefaults) {
  return { perMinute: k.rate_limit_per_minute ?? defaults[k.mode].perMinute, burst: k.rate_limit_burst ?? defaults[k.mode].burst };
}

export function toApiKey(k: ApiKeyRecord, defaults: RateLimitDefaults): ApiKeyView {
  const limit = effectiveRateLimit(k, defaults);
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
    last_used_at: k.last_used_at?.toISOString() ?? null,
    rate_limit: { per_minute: limit.perMinute, burst: limit.burst },
    rate_limit_tier: tierOf(k.mode, limit, defaults),
  };
}

/** What the audit log shows of a key: never the secret, its hash or its prefix. */
const API_KEY_AUDIT_FIELDS = ["name", "mode", "scopes", "public_key", "rate_limit", "revoked_at"] as const satisfies readonly (keyof ApiKeyView)[];

export interface NewApiKeyInput {
  name: string;
  mode: KeyMode;
  scopes: string[];
  /** Live keys: the tier whose limit applies (standard by default). */
  rate_limit_tier?: "standard" | "elevated";
  /** Overrides of the tier's limit; either may be omitted. */
  rate_limit?: { per_minute?: number; burst?: number };
}

export interface ApiKeyServiceDeps {
  db: Database;
  clock: Clock;
  entities: EntityService;
  rateLimits: RateLimitDefaults;
}

export function createApiKeyService({ db, clock, entities, rateLimits }: ApiKeyServiceDeps) {
  const toView = (k: ApiKeyRecord) => toApiKey(k, rateLimits);
  function actorOf(k: ApiKeyRecord): ApiKeyActor {
    return {
      type: "api_key",
      keyId: k.id,
      entityId: k.entity_id,
      mode: k.mode,
      scopes: k.scopes as Scope[],
      publicKey: k.public_key,
      rateLimit: effectiveRateLimit(k, rateLimits),
    };
  }

  return {
    /** The actor a key row authenticates as (its effective rate limit included). */
    actorOf,

    /** Creates a key; the secret is in this return value and nowhere else, ever. */
    async createApiKey(entityId: string, input: NewApiKeyInput, actor: AuditActor): Promise<ApiKeyView & { key: string }> {
      const unknown = input.scopes.filter((s) => !isScope(s));
      if (unknown.length > 0) {
        throw new ValidationError(`Unknown scope "${unknown[0]}".`, {
          param: "scopes",
          hint: `Scopes are ${SCOPES.join(", ")}.`,
        });
      }
      if (input.rate_limit_tier === "elevated" && input.mode === "test") {
        throw new ValidationError("Test keys have the test tier only (60 requests a minute, burst 10); rate_limit_tier elevated is for live keys.", {
          param: "rate_limit_tier",
          hint: "Leave rate_limit_tier out for a test key, or create a live key.",
        });
      }
      const base = input.rate_limit_tier === "elevated" ? ELEVATED_RATE_LIMIT : null;
      const override = { perMinute: input.rate_limit?.per_minute ?? base?.perMinute ?? null, burst: input.rate_limit?.burst ?? base?.burst ?? null };
      const limit = effectiveRateLimit({ mode: input.mode, rate_limit_per_minute: override.perMinute, rate_limit_burst: override.burst }, rateLimits);
      // A burst above the minute's budget could never be used; it is almost certainly a typo.
      if (limit.burst > limit.perMinute) {
        throw new ValidationError(`rate_limit.burst (${limit.burst}) may not exceed rate_limit.per_minute (${limit.perMinute}).`, {
          param: "rate_limit.burst",
          hint: "The burst is the most requests in any one second; the per-minute limit caps them over a minute.",
        });
      }
      await entities.requireEntity(entityId);
      const now = clock.now();
      const secret = generateApiKey(input.mode);
      return db.transaction().execute(async (trx) => {
        const record = await trx
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
            rate_limit_per_minute: override.perMinute,
            rate_limit_burst: override.burst,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        const view = toView(record);
        await recordChange(trx, { entityId, actor, action: "api_key.created", target: { type: "api_key", id: record.id }, changes: diffFields(null, view, API_KEY_AUDIT_FIELDS), at: now });
        return { ...view, key: secret.key };
      });
    },

    async listApiKeys(entityId: string): Promise<ApiKeyView[]> {
      await entities.requireEntity(entityId);
      const rows = await db.selectFrom("api_keys").selectAll().where("entity_id", "=", entityId).orderBy("id").execute();
      return rows.map(toView);
    },

    /**
     * Rolls a key: a new secret (and public key) with the same name, mode,
     * scopes and rate limit, while the old one keeps working for
     * `overlapSeconds` (0: it stops at once) and is revoked from then on.
     * Rolling a key that is revoked, or already ending, is a conflict.
     */
    async rollApiKey(id: string, overlapSeconds: number, actor: AuditActor): Promise<ApiKeyView & { key: string }> {
      const now = clock.now();
      const ends = new Date(now.getTime() + overlapSeconds * 1000);
      const result = await db.transaction().execute(async (trx) => {
        const old = await trx.updateTable("api_keys").set({ revoked_at: ends }).where("id", "=", id).where("revoked_at", "is", null).returningAll().executeTakeFirst();
        if (!old) return undefined;
        const secret = generateApiKey(old.mode);
        const record = await trx
          .insertInto("api_keys")
          .values({
            id: uuidv7(now),
            entity_id: old.entity_id,
            name: old.name,
            mode: old.mode,
            scopes: old.scopes,
            key_prefix: secret.prefix,
            key_hash: secret.hash,
            public_key: generatePublicKey(old.mode),
            created_at: now,
            revoked_at: null,
            rate_limit_per_minute: old.rate_limit_per_minute,
            rate_limit_burst: old.rate_limit_burst,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        const view = toView(record);
        const rolled = { revoked_at: { before: null, after: ends.toISOString() }, replaced_by: { before: null, after: record.id } };
        await recordChange(trx, { entityId: old.entity_id, actor, action: "api_key.rolled", target: { type: "api_key", id }, changes: rolled, at: now });
        await recordChange(trx, { entityId: old.entity_id, actor, action: "api_key.created", target: { type: "api_key", id: record.id }, changes: diffFields(null, view, API_KEY_AUDIT_FIELDS), at: now });
        return { ...view, key: secret.key };
      });
      if (result) return result;
      const existing = await db.selectFrom("api_keys").select("id").where("id", "=", id).executeTakeFirst();
      if (!existing) throw new NotFoundError("api_key_not_found", `No API key with id ${id}.`);
      throw new ConflictError("api_key_revoked", "This API key is revoked or already rolled; only a live key can be rolled.", "Roll the key that replaced it, or create a new key.");
    },

    /** Revokes a key at once (a rolled key still in its overlap too); revoking a revoked key changes (and audits) nothing. */
    async revokeApiKey(id: string, actor: AuditActor): Promise<ApiKeyView> {
      const now = clock.now();
      const revoked = await db.transaction().execute(async (trx) => {
        const row = await trx
          .updateTable("api_keys")
          .set({ revoked_at: now })
          .where("id", "=", id)
          .where((eb) => eb.or([eb("revoked_at", "is", null), eb("revoked_at", ">", now)]))
          .returningAll()
          .executeTakeFirst();
        if (!row) return undefined;
        const view = toView(row);
        await recordChange(trx, { entityId: row.entity_id, actor, action: "api_key.revoked", target: { type: "api_key", id }, changes: { revoked_at: { before: null, after: view.revoked_at } }, at: now });
        return view;
      });
      if (revoked) return revoked;
      const existing = await db.selectFrom("api_keys").selectAll().where("id", "=", id).executeTakeFirst();
      if (!existing) throw new NotFoundError("api_key_not_found", `No API key with id ${id}.`);
      return toView(existing);
    },

    /**
     * Records when keys were last used: the request log's flush hands in
     * each key's latest request of the batch, and this is one UPDATE for all
     * of them (never one per request). A time never moves backwards.
     */
    async markUsed(lastUse: ReadonlyMap<string, Date>): Promise<void> {
      if (lastUse.size === 0) return;
      const ids = [...lastUse.keys()];
      const times = [...lastUse.values()].map((d) => d.toISOString());
      await sql`update api_keys as k set last_used_at = v.at from unnest(${ids}::uuid[], ${times}::timestamptz[]) as v (id, at)
                 where k.id = v.id and (k.last_used_at is null or k.last_used_at < v.at)`.execute(db);
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
        // A rolled key works until the end of its overlap (revoked_at in the future).
        .where((eb) => eb.or([eb("revoked_at", "is", null), eb("revoked_at", ">", clock.now())]))
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

export function invalidKey(): AuthenticationError {
  return new AuthenticationError(
    "invalid_api_key",
    "The API key is not valid: it is malformed, unknown or revoked.",
    "Create a key with `npx patchbay keys create` and send it as `Authorization: Bearer ark_…`.",
  );
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
