import type { Clock } from "../kernel/clock.ts";
import type { MintRecipe } from "../catalog/definition.ts";
import type { Database } from "../db/index.ts";
import type { ConnectorRecord } from "../db/schema.ts";
import { ProviderError, type ProviderClient } from "../providers/client.ts";
import { basicAuth } from "../providers/verify/check.ts";
import type { SecretPlace, Vault } from "../vault/vault.ts";
import { DomainError } from "../kernel/errors.ts";
import { uuidv7 } from "../kernel/ids.ts";
import type { CallContext } from "../providers/call-log.ts";

/** Vault purpose of a minted access token (part of the blob's authenticated data). */
export const MINTED_TOKEN_PURPOSE = "connector.minted_token";

/** A token is minted again this long before it expires. */
export const MINT_AHEAD_MS = 60_000;

/** How long a minter's claim holds: longer than a token call can take (10 s timeout, 3 attempts). */
export const MINT_LEASE_MS = 45_000;

/** How long a caller waits for another process's mint before giving up. */
const WAIT_FOR_MINT_MS = 30_000;
const POLL_MS = 25;

type ConnectorRef = Pick<ConnectorRecord, "id" | "entity_id" | "connector_type" | "mode">;

interface SealedToken {
  access_token: string;
  generation: number;
}

export interface MintedToken {
  accessToken: string;
  /** Which mint this is: a caller whose token the provider refused asks for one newer than it. */
  generation: number;
}

export interface MintedTokenDeps {
  db: Database;
  clock: Clock;
  vault: Pick<Vault, "sealSecret" | "openSecret">;
  providers: ProviderClient;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Access tokens minted from a connector's stored credentials (OAuth client
 * credentials or a refresh token), sealed in the vault and reused until
 * MINT_AHEAD_MS before they expire. Exactly one process mints each
 * generation, whatever the number of processes: it must first win a
 * conditional UPDATE that claims the row's current generation (the Shopify
 * refresh's discipline); the others wait for the new generation and use it.
 */
export function createMintedTokens({ db, clock, vault, providers, sleep = (ms) => new Promise((r) => setTimeout(r, ms)) }: MintedTokenDeps) {
  const place = (c: ConnectorRef): SecretPlace => ({ entityId: c.entity_id, ownerId: c.id, purpose: MINTED_TOKEN_PURPOSE });

  async function mint(connector: ConnectorRef, recipe: MintRecipe, credentials: Record<string, string>, requestId: string | null): Promise<{ accessToken: string; expiresInMs: number }> {
    const form = new URLSearchParams({ grant_type: recipe.grant });
    if (recipe.grant === "refresh_token") form.set("refresh_token", credentials[recipe.refreshTokenKey ?? "refresh_token"] ?? "");
    const headers: Record<string, string> = {};
    const clientId = credentials[recipe.clientIdKey] ?? "";
    const clientSecret = credentials[recipe.clientSecretKey] ?? "";
    if (recipe.clientAuth === "basic") headers.authorization = basicAuth(clientId, clientSecret);
    else {
      form.set("client_id", clientId);
      form.set("client_secret", clientSecret);
    }
    for (const [name, template] of Object.entries(recipe.headers ?? {})) headers[name] = fillTemplate(template, credentials);
    const context: CallContext = { entityId: connector.entity_id, connectorId: connector.id, connectorType: connector.connector_type, purpose: "token_mint", requestId };
    let res;
    try {
      res = await providers.request(recipe.provider, { method: "POST", path: recipe.path, headers, body: form, mode: connector.mode, retry: true, context });
    } catch (err) {
      if (err instanceof ProviderError) throw mintFailed(connector.connector_type, "proxy_token_unreachable", `The ${connector.connector_type} token endpoint could not be reached (${err.failure}).`);
      throw err;
    }
    if (res.status !== 200) {
      const refused = res.status === 400 || res.status === 401 || res.status === 403;
      throw mintFailed(
        connector.connector_type,
        refused ? "proxy_token_refused" : "proxy_token_unreachable",
        refused
          ? `The ${connector.connector_type} token endpoint refused the stored credentials (HTTP ${res.status}).`
          : `The ${connector.connector_type} token endpoint answered HTTP ${res.status}.`,
      );
    }
    let body: { access_token?: unknown; expires_in?: unknown };
    try {
      body = res.json();
    } catch {
      body = {};
    }
    if (typeof body.access_token !== "string" || body.access_token.length === 0) {
      throw mintFailed(connector.connector_type, "proxy_token_unreachable", `The ${connector.connector_type} token endpoint answered without an access token.`);
    }
    const seconds = Number(body.expires_in);
    return { accessToken: body.access_token, expiresInMs: (Number.isFinite(seconds) && seconds > 0 ? seconds : 3600) * 1000 };
  }

  return {
    /**
     * The connector's current token; minted when there is none, it is due,
     * or it is not newer than `newerThan` (the generation the provider just
     * refused). Throws a `proxy_token_*` DomainError when minting fails.
     */
    async token(connector: ConnectorRef, recipe: MintRecipe, credentials: Record<string, string>, opts: { newerThan?: number; requestId?: string | null } = {}): Promise<MintedToken> {
      const deadline = clock.now().getTime() + WAIT_FOR_MINT_MS;
      for (;;) {
        const now = clock.now();
        let row = await db.selectFrom("provider_tokens").selectAll().where("connector_id", "=", connector.id).executeTakeFirst();
        if (!row) {
          await db.insertInto("provider_tokens").values({ connector_id: connector.id, created_at: now, updated_at: now }).onConflict((oc) => oc.column("connector_id").doNothing()).execute();
          row = await db.selectFrom("provider_tokens").selectAll().where("connector_id", "=", connector.id).executeTakeFirstOrThrow();
        }
        const usable =
          row.generation > 0 &&
          row.generation > (opts.newerThan ?? 0) &&
          row.expires_at !== null &&
          row.expires_at.getTime() > now.getTime() + MINT_AHEAD_MS;
        if (usable) {
          const sealed = await vault.openSecret<SealedToken>(db, place(connector));
          if (sealed && sealed.generation === row.generation) return { accessToken: sealed.access_token, generation: sealed.generation };
        }

        const leaseId = uuidv7(now);
        const claimed = await db
          .updateTable("provider_tokens")
          .set({ mint_lease_id: leaseId, mint_lease_until: new Date(now.getTime() + MINT_LEASE_MS) })
          .where("connector_id", "=", connector.id)
          .where("generation", "=", row.generation)
          .where((eb) => eb.or([eb("mint_lease_until", "is", null), eb("mint_lease_until", "<=", now)]))
          .returning("generation")
          .executeTakeFirst();
        if (!claimed) {
          // Another process is minting this generation: wait for its token.
          if (clock.now().getTime() > deadline) {
            throw mintFailed(connector.connector_type, "proxy_token_unreachable", `Another process is still minting the ${connector.connector_type} token.`);
          }
          await sleep(POLL_MS);
          continue;
        }

        let minted;
        try {
          minted = await mint(connector, recipe, credentials, opts.requestId ?? null);
        } catch (err) {
          await db.updateTable("provider_tokens").set({ mint_lease_id: null, mint_lease_until: null }).where("connector_id", "=", connector.id).where("mint_lease_id", "=", leaseId).execute();
          throw err;
        }
        const generation = claimed.generation + 1;
        const mintedAt = clock.now();
        const completed = await db.transaction().execute(async (trx) => {
          const r = await trx
            .updateTable("provider_tokens")
            .set({ generation, expires_at: new Date(mintedAt.getTime() + minted.expiresInMs), mint_lease_id: null, mint_lease_until: null, updated_at: mintedAt })
            .where("connector_id", "=", connector.id)
            .where("generation", "=", claimed.generation)
            .where("mint_lease_id", "=", leaseId)
            .executeTakeFirst();
          if (Number(r.numUpdatedRows) !== 1) return false;
          await vault.sealSecret(trx, place(connector), { access_token: minted.accessToken, generation } satisfies SealedToken);
          return true;
        });
        // Our claim lapsed and another minter completed first: its token is as good; read it on the next turn.
        if (completed) return { accessToken: minted.accessToken, generation };
      }
    },
  };
}

export type MintedTokens = ReturnType<typeof createMintedTokens>;

/** `{key}` placeholders replaced by the stored credential of that name (missing: empty). */
export function fillTemplate(template: string, credentials: Record<string, string>): string {
  return template.replace(/\{([a-z_]+)\}/g, (_m, key: string) => credentials[key] ?? "");
}

function mintFailed(type: string, code: "proxy_token_refused" | "proxy_token_unreachable", message: string): DomainError {
  return new DomainError("upstream", code, message, {
    advice: code === "proxy_token_refused" ? { to: "check_credentials", connector_type: type } : { to: "see_token_calls", connector_type: type },
  });
}
