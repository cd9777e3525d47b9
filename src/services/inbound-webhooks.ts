import { createHash } from "node:crypto";
import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import { selectConnectorByInboundToken } from "./connector-store.ts";
import { connectorDefinition, type ConnectorType } from "../catalog/index.ts";
import { createPlaidVerifier, verifyBasicAuth, verifyQueryToken, verifyShopify, verifyStripe, type PlaidKeyFetcher, type Refusal } from "../providers/inbound-verify.ts";
import type { ProviderClient } from "../providers/client.ts";
import type { RateLimiter } from "../ratelimit/limiter.ts";
import type { Credentials } from "./credentials.ts";
import { AuthenticationError, DomainError, NotFoundError, ValidationError } from "../kernel/errors.ts";
import { uuidv7 } from "../kernel/ids.ts";
import { emitEvent } from "./outbox.ts";

/** A provider's POST as the surface hands it over: the raw body, its headers and query. */
export interface InboundDelivery {
  headers: Record<string, string | string[] | undefined>;
  query: Record<string, string | undefined>;
  raw: Buffer;
  requestId: string;
}

export interface InboundOutcome {
  duplicate: boolean;
  /** The Patchbay event the delivery became (the first delivery's, for a duplicate). */
  eventId: string;
}

type ConnectorRef = { id: string; entity_id: string; connector_type: string; mode: "sandbox" | "live" };

export interface InboundWebhookDeps {
  db: Database;
  clock: Clock;
  rateLimiter: Pick<RateLimiter, "failAuthentication">;
  perMinute: number;
  openWebhookSecret(c: Pick<ConnectorRef, "id" | "entity_id">): Promise<string | null>;
  openCredentials(c: Pick<ConnectorRef, "id" | "entity_id">): Promise<Credentials | null>;
  providers: ProviderClient;
}

const header = (h: InboundDelivery["headers"], name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

const str = (v: unknown): string | null => (typeof v === "string" && v.length > 0 ? v.slice(0, 500) : typeof v === "number" ? String(v) : null);

/** The provider's own event id and type, where its webhook carries them; the body's SHA-256 stands in for an id it does not send. */
function identify(type: ConnectorType, d: InboundDelivery, body: unknown): { id: string; type: string | null } {
  const b = (body && typeof body === "object" ? body : {}) as Record<string, any>;
  const digest = () => `sha256:${createHash("sha256").update(d.raw).digest("hex")}`;
  switch (type) {
    case "stripe":
      return { id: str(b.id) ?? digest(), type: str(b.type) };
    case "shopify":
      return { id: header(d.headers, "x-shopify-event-id") ?? header(d.headers, "x-shopify-webhook-id") ?? digest(), type: header(d.headers, "x-shopify-topic") ?? null };
    case "plaid":
      // Plaid sends no event id: an identical body is the same event.
      return { id: digest(), type: b.webhook_type && b.webhook_code ? `${b.webhook_type}.${b.webhook_code}` : null };
    case "postmark": {
      const id = str(b.MessageID) ?? str(b.ID);
      return { id: id && str(b.RecordType) ? `${b.RecordType}:${id}` : digest(), type: str(b.RecordType) };
    }
    case "shippo":
      return { id: digest(), type: str(b.event) };
    case "ebay":
      return { id: str(b.notification?.notificationId) ?? digest(), type: str(b.metadata?.topic) };
    case "amazon":
      return { id: str(b.NotificationMetadata?.NotificationId) ?? digest(), type: str(b.NotificationType) };
    default:
      return { id: str(b.id) ?? str(b.event_id) ?? digest(), type: str(b.type) ?? str(b.event) ?? str(b.event_type) };
  }
}

/** A delivery without the scheme's proof is malformed (400); one whose proof fails, or that cannot be checked, is refused (401). */
const refused = (r: Refusal) =>
  r.code === "webhook_signature_missing"
    ? new ValidationError(r.message, { hint: "Register the URL with the provider as the README (Provider webhooks in) says." }, r.code)
    : new AuthenticationError(r.code, r.message);

/**
 * Provider webhooks in (README, Provider webhooks in): a provider's POST to a
 * connector's inbound URL is found by the URL's token, counted against the
 * connector's per-minute limit, verified by the type's scheme, deduplicated on
 * the provider's event id and, once only, emitted as the Patchbay event
 * `connector.webhook_received` through the outbox — in one transaction, so
 * the dedup row and the event exist together or not at all. No provider is
 * called while the provider waits (Plaid's keys aside, fetched once a kid).
 */
export function createInboundWebhooks({ db, clock, rateLimiter, perMinute, openWebhookSecret, openCredentials, providers }: InboundWebhookDeps) {
  const verifyPlaid = createPlaidVerifier();

  function plaidKeys(c: ConnectorRef, requestId: string): PlaidKeyFetcher {
    return async (kid) => {
      const creds = await openCredentials(c);
      if (!creds?.client_id || !creds.secret) return null;
      const res = await providers.request("plaid", {
        method: "POST",
        path: "/webhook_verification_key/get",
        body: { client_id: creds.client_id, secret: creds.secret, key_id: kid },
        mode: c.mode,
        retry: false,
        timeoutMs: 5_000,
        context: { entityId: c.entity_id, connectorId: c.id, connectorType: "plaid", purpose: "verify", requestId },
      });
      if (res.status !== 200) return null;
      const key = res.json<{ key?: Record<string, unknown> }>().key;
      return key && typeof key === "object" ? (key as never) : null;
    };
  }

  async function verify(type: ConnectorType, c: ConnectorRef, d: InboundDelivery): Promise<Refusal | null> {
    const scheme = connectorDefinition(type).inboundWebhooks.scheme;
    const nowS = Math.floor(clock.now().getTime() / 1000);
    if (scheme === "url_token") return null; // the token found the connector: that is the proof (catalog)
    if (scheme === "plaid_jwt") return verifyPlaid(header(d.headers, "plaid-verification"), d.raw, nowS, plaidKeys(c, d.requestId));
    const secret = await openWebhookSecret(c);
    if (secret === null) return { code: "webhook_secret_missing", message: `No webhook secret is stored for the ${type} connector: PUT /v1/integrations/${type}/webhook-secret first.` };
    switch (scheme) {
      case "stripe_signature":
        return verifyStripe(header(d.headers, "stripe-signature"), d.raw, secret, nowS);
      case "shopify_hmac":
        return verifyShopify(header(d.headers, "x-shopify-hmac-sha256"), d.raw, secret);
      case "basic_auth":
        return verifyBasicAuth(header(d.headers, "authorization"), secret);
      case "query_token":
        return verifyQueryToken(d.query.token, secret);
    }
  }

  return {
    async receive(type: ConnectorType, token: string, d: InboundDelivery): Promise<InboundOutcome> {
      const c = /^[0-9a-f]{64}$/.test(token)
        ? await selectConnectorByInboundToken(db, type, token)
        : undefined;
      if (!c) throw new NotFoundError("inbound_webhook_not_found", "No connector has this inbound webhook URL.", { to: "copy_inbound_webhook_url" });

      const counted = await rateLimiter.failAuthentication(`inbound:${c.id}`, perMinute);
      if (counted.throttled) {
        throw new DomainError("rate_limited", "inbound_webhook_rate_limited", `This connector's inbound URL takes at most ${perMinute} deliveries a minute.`, {
          hint: "The provider retries later (Retry-After).",
          meta: { retry_after: 60 },
        });
      }

      const refusal = await verify(type, c, d);
      if (refusal) throw refused(refusal);

      let body: unknown = d.raw.toString("utf8");
      try {
        body = JSON.parse(body as string);
      } catch {
        // Not JSON (a form post): delivered as the text it was.
      }
      const event = identify(type, d, body);
      const now = clock.now();
      const eventId = uuidv7(now);
      return db.transaction().execute(async (trx) => {
        const inserted = await trx
          .insertInto("provider_webhook_events")
          .values({ connector_id: c.id, provider_event_id: event.id, event_id: eventId, received_at: now })
          .onConflict((oc) => oc.columns(["connector_id", "provider_event_id"]).doNothing())
          .returning("event_id")
          .executeTakeFirst();
        if (!inserted) {
          const first = await trx.selectFrom("provider_webhook_events").select("event_id").where("connector_id", "=", c.id).where("provider_event_id", "=", event.id).executeTakeFirstOrThrow();
          return { duplicate: true, eventId: first.event_id };
        }
        await emitEvent(trx, {
          id: eventId,
          entityId: c.entity_id,
          type: "connector.webhook_received",
          data: { connector_type: type, connector_id: c.id, provider_event_type: event.type, provider_event_id: event.id, body },
          at: now,
        });
        return { duplicate: false, eventId };
      });
    },
  };
}

export type InboundWebhooks = ReturnType<typeof createInboundWebhooks>;
