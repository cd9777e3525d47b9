import assert from "node:assert/strict";
import { createHash, createHmac, generateKeyPairSync, sign } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import { connectorDefinition } from "../src/catalog/index.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { startFakeProvider, type FakeProvider } from "./helpers/fake-provider.ts";
import { asKey, createTenant, SHIP_FROM, type Tenant } from "./helpers/fixtures.ts";
import { clockSeconds, createEndpoint, startReceiver, verifyPatchbaySignature, type Receiver } from "./helpers/webhooks.ts";

const ROW_FIELDS: Record<string, string> = { ...SHIP_FROM, seller_id: "A1SELLER0001", bank_account_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b" };
const CREDENTIALS: Record<string, Record<string, string>> = {
  stripe: { secret_key: "sk_test_inbound0001" },
  plaid: { client_id: "pbplaidclient0001", secret: "pbplaidsecret0001" },
  postmark: { server_token: "pbpostmarktoken0001" },
  shippo: { api_token: "shippo_test_inbound0001" },
  ups: { account_number: "pbupsacct0001", client_id: "pbupsclient0001", client_secret: "pbupssecret0001" },
};
const PER_MINUTE = 25;
const BODY_LIMIT = 4096;

/** Plaid's signing key, and the JWK its key endpoint serves for its kid. */
const plaidKeys = generateKeyPairSync("ec", { namedCurve: "P-256" });
const PLAID_KID = "pb-test-kid-1";

function plaidJwt(body: string, iat: number, kid = PLAID_KID, key = plaidKeys.privateKey): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const head = enc({ alg: "ES256", kid, typ: "JWT" });
  const claims = enc({ iat, request_body_sha256: createHash("sha256").update(body).digest("hex") });
  const sig = sign("sha256", Buffer.from(`${head}.${claims}`), { key, dsaEncoding: "ieee-p1363" }).toString("base64url");
  return `${head}.${claims}.${sig}`;
}

const stripeHeader = (body: string, secret: string, t: number) => `t=${t},v1=${createHmac("sha256", secret).update(`${t}.${body}`).digest("hex")}`;
const shopifyHmac = (body: string, secret: string) => createHmac("sha256", secret).update(body).digest("base64");

for (const kind of DB_KINDS) {
  describe(`[${kind}] provider webhooks in`, () => {
    let t: TestApp;
    let plaid: FakeProvider;
    let receiver: Receiver;

    before(async () => {
      plaid = await startFakeProvider({
        "POST /webhook_verification_key/get": (req) => {
          const b = JSON.parse(req.body);
          if (b.client_id !== CREDENTIALS.plaid!.client_id || b.secret !== CREDENTIALS.plaid!.secret) return { status: 400, body: { error_code: "INVALID_API_KEYS" } };
          if (b.key_id !== PLAID_KID) return { status: 400, body: { error_code: "INVALID_WEBHOOK_VERIFICATION_KEY_ID" } };
          return { status: 200, body: { key: { ...plaidKeys.publicKey.export({ format: "jwk" }), alg: "ES256", kid: PLAID_KID, use: "sig", created_at: 1, expired_at: null }, request_id: "r1" } };
        },
      });
      t = await startTestApp(kind, {
        env: {
          PATCHBAY_WEBHOOK_ALLOW_PRIVATE: "true",
          PATCHBAY_PUBLIC_URL: "https://patchbay.example",
          PATCHBAY_PROVIDER_URL_PLAID: plaid.url,
          PATCHBAY_PROVIDER_URL_PLAID_SANDBOX: plaid.url,
          SHOPIFY_CLIENT_ID: "fake_shopify_client_id",
          SHOPIFY_CLIENT_SECRET: "shpss_fake_client_secret_0123456789",
          PATCHBAY_INBOUND_WEBHOOKS_PER_MINUTE: String(PER_MINUTE),
          PATCHBAY_INBOUND_WEBHOOK_MAX_BODY_BYTES: String(BODY_LIMIT),
        },
      });
      receiver = await startReceiver();
    });
    after(async () => {
      await receiver.close();
      await plaid.close();
      await t.close();
    });

    /** A tenant's connector of `type` with its credentials and (if given) webhook secret; answers its row. */
    async function connect(type: string, webhookSecret?: string): Promise<{ tenant: Tenant; row: Record<string, any>; path: string }> {
      const tenant = await createTenant(t);
      const call = asKey(t, tenant);
      if (type === "shopify") {
        const start = await call("POST", "/v1/integrations/shopify", { shop: "acme-inbound.myshopify.com" });
        assert.equal(start.statusCode, 200, start.body);
      } else {
        const fields = Object.fromEntries(connectorDefinition(type as never).requiredFields.map((f) => [f, ROW_FIELDS[f]]));
        const created = await call("POST", `/v1/integrations/${type}`, { mode: "live", ...fields });
        assert.equal(created.statusCode, 201, created.body);
        const stored = await call("PUT", `/v1/integrations/${type}/credentials`, CREDENTIALS[type]);
        assert.equal(stored.statusCode, 200, stored.body);
      }
      if (webhookSecret) assert.equal((await call("PUT", `/v1/integrations/${type}/webhook-secret`, { webhook_secret: webhookSecret })).statusCode, 200);
      const row = (await call("GET", `/v1/integrations/${type}`)).json().data;
      const url = new URL(row.inbound_webhook_url);
      return { tenant, row, path: url.pathname };
    }

    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      t.request({ method: "POST", url: path, payload: body, headers: { "content-type": "application/json", ...headers } });

    const stored = async (connectorId: string) => {
      const { rows } = await sql<{ n: string }>`select count(*) as n from provider_webhook_events where connector_id = ${connectorId}`.execute(t.database.db);
      const events = await sql<{ n: string }>`select count(*) as n from events e join connectors c on c.entity_id = e.entity_id where c.id = ${connectorId} and e.type = 'connector.webhook_received'`.execute(t.database.db);
      return { dedup: Number(rows[0]!.n), events: Number(events.rows[0]!.n) };
    };

    /** Valid → 200 and one event; replay → 200 duplicate, nothing new; each refusal → its status, nothing stored. */
    async function battery(connectorId: string, send: { valid: () => Promise<any>; refused: Array<[string, () => Promise<any>, number, string]> }) {
      for (const [label, fn, status, code] of send.refused) {
        const res = await fn();
        assert.equal(res.statusCode, status, `${label}: ${res.body}`);
        assert.equal(res.json().code, code, label);
        assert.ok(res.json().request_id, label);
      }
      assert.deepEqual(await stored(connectorId), { dedup: 0, events: 0 }, "an unverified delivery stores nothing");
      const first = await send.valid();
      assert.equal(first.statusCode, 200, first.body);
      assert.equal(first.json().duplicate, false);
      const replay = await send.valid();
      assert.equal(replay.statusCode, 200, replay.body);
      assert.equal(replay.json().duplicate, true, "a replay is recognised");
      assert.equal(replay.json().event_id, first.json().event_id);
      assert.deepEqual(await stored(connectorId), { dedup: 1, events: 1 }, "one event for two deliveries");
      return first.json().event_id as string;
    }

    it("each row carries inbound_webhook_url under PATCHBAY_PUBLIC_URL with an unguessable token; the log never shows the token", async () => {
      const a = await connect("ups");
      const b = await connect("ups");
      assert.match(a.row.inbound_webhook_url, /^https:\/\/patchbay\.example\/v1\/webhooks-in\/ups\/[0-9a-f]{64}$/);
      assert.notEqual(a.row.inbound_webhook_url, b.row.inbound_webhook_url);
      const ok = await post(a.path, JSON.stringify({ id: "ups-evt-1", type: "tracking" }));
      assert.equal(ok.statusCode, 200, ok.body);
      const token = a.path.split("/").pop()!;
      assert.ok(!t.logs.join("").includes(token), "the inbound token is redacted from the log");
    });

    it("stripe: a valid, a tampered, a stale and a replayed delivery; the event reaches a subscribed endpoint signed by Patchbay", async () => {
      const secret = "whsec_pbstripeinbound0001";
      const { tenant, row, path } = await connect("stripe", secret);
      const endpoint = await createEndpoint(t, tenant, { url: receiver.url, events: ["connector.webhook_received"] });
      const now = Math.floor(clockSeconds(t));
      const body = JSON.stringify({ id: "evt_pb_0001", type: "charge.succeeded", data: { object: { id: "ch_1" } } });
      const eventId = await battery(row.id, {
        valid: () => post(path, body, { "stripe-signature": stripeHeader(body, secret, now) }),
        refused: [
          ["no header", () => post(path, body), 400, "webhook_signature_missing"],
          ["tampered body", () => post(path, body.replace("ch_1", "ch_2"), { "stripe-signature": stripeHeader(body, secret, now) }), 401, "webhook_signature_invalid"],
          ["other secret", () => post(path, body, { "stripe-signature": stripeHeader(body, "whsec_other", now) }), 401, "webhook_signature_invalid"],
          ["stale (301 s)", () => post(path, body, { "stripe-signature": stripeHeader(body, secret, now - 301) }), 401, "webhook_timestamp_stale"],
          ["wrong token", () => post(path.replace(/[0-9a-f]{4}$/, "0000"), body, { "stripe-signature": stripeHeader(body, secret, now) }), 404, "inbound_webhook_not_found"],
        ],
      });
      await t.services.jobs.runDueJobs();
      const hooks = receiver.hooks().filter((h) => JSON.parse(h.body).id === eventId);
      assert.equal(hooks.length, 1);
      const delivered = JSON.parse(hooks[0]!.body);
      assert.equal(delivered.type, "connector.webhook_received");
      // The Arcus envelope: the event's subject in data.object.
      assert.deepEqual(delivered.data.object, {
        connector_type: "stripe",
        connector_id: row.id,
        provider_event_type: "charge.succeeded",
        provider_event_id: "evt_pb_0001",
        body: JSON.parse(body),
      });
      assert.equal(verifyPatchbaySignature(String(hooks[0]!.headers["arcus-signature"]), hooks[0]!.body, endpoint.secret, clockSeconds(t)), true);
      assert.ok(!hooks[0]!.body.includes(secret), "the webhook secret is not in the payload");
    });

    it("shopify: valid, tampered, replayed (Shopify signs no time: a replay is caught by X-Shopify-Event-Id)", async () => {
      const secret = "shpss_pbshopifyinbound0001";
      const { row, path } = await connect("shopify", secret);
      const body = JSON.stringify({ id: 820982911946154500, email: "jon@example.com" });
      const headers = { "x-shopify-topic": "orders/create", "x-shopify-event-id": "98880550-7158-44d4-b7cd-2c97c8a091b5", "x-shopify-shop-domain": "acme-inbound.myshopify.com" };
      await battery(row.id, {
        valid: () => post(path, body, { ...headers, "x-shopify-hmac-sha256": shopifyHmac(body, secret) }),
        refused: [
          ["no header", () => post(path, body, headers), 400, "webhook_signature_missing"],
          ["tampered body", () => post(path, body + " ", { ...headers, "x-shopify-hmac-sha256": shopifyHmac(body, secret) }), 401, "webhook_signature_invalid"],
          ["other secret", () => post(path, body, { ...headers, "x-shopify-hmac-sha256": shopifyHmac(body, "shpss_other") }), 401, "webhook_signature_invalid"],
        ],
      });
      const ev = await t.database.db.selectFrom("events").select("data").where("type", "=", "connector.webhook_received").where("entity_id", "=", row.entity_id).executeTakeFirstOrThrow();
      assert.equal((ev.data as any).provider_event_type, "orders/create");
      assert.equal((ev.data as any).provider_event_id, headers["x-shopify-event-id"]);
    });

    it("plaid: a valid, a tampered, a stale and a replayed delivery (ES256 JWT, key from the configured key endpoint)", async () => {
      const { row, path } = await connect("plaid");
      const now = Math.floor(clockSeconds(t));
      const body = JSON.stringify({ webhook_type: "TRANSACTIONS", webhook_code: "SYNC_UPDATES_AVAILABLE", item_id: "item_1" });
      const stranger = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
      await battery(row.id, {
        valid: () => post(path, body, { "plaid-verification": plaidJwt(body, now) }),
        refused: [
          ["no header", () => post(path, body), 400, "webhook_signature_missing"],
          ["tampered body", () => post(path, body.replace("item_1", "item_2"), { "plaid-verification": plaidJwt(body, now) }), 401, "webhook_signature_invalid"],
          ["another key", () => post(path, body, { "plaid-verification": plaidJwt(body, now, PLAID_KID, stranger) }), 401, "webhook_signature_invalid"],
          ["unknown kid", () => post(path, body, { "plaid-verification": plaidJwt(body, now, "kid-nobody") }), 401, "webhook_signature_invalid"],
          ["stale (301 s)", () => post(path, body, { "plaid-verification": plaidJwt(body, now - 301) }), 401, "webhook_timestamp_stale"],
        ],
      });
      const keyFetches = plaid.requests.filter((r) => r.path === "/webhook_verification_key/get" && JSON.parse(r.body).key_id === PLAID_KID);
      assert.equal(keyFetches.length, 1, "a key is fetched once, then kept");
    });

    it("postmark: HTTP Basic credentials; shippo: ?token=; each valid, wrong and replayed", async () => {
      const pm = await connect("postmark", "pbhooks:pbpostmarkpass0001");
      const pmBody = JSON.stringify({ RecordType: "Delivery", MessageID: "883953f4-6105-42a2-a16a-77a8eac79483", Recipient: "a@b.c" });
      const basic = (v: string) => `Basic ${Buffer.from(v).toString("base64")}`;
      await battery(pm.row.id, {
        valid: () => post(pm.path, pmBody, { authorization: basic("pbhooks:pbpostmarkpass0001") }),
        refused: [
          ["no credentials", () => post(pm.path, pmBody), 400, "webhook_signature_missing"],
          ["wrong password", () => post(pm.path, pmBody, { authorization: basic("pbhooks:wrong") }), 401, "webhook_signature_invalid"],
        ],
      });
      const sh = await connect("shippo", "pbshippotoken0001");
      const shBody = JSON.stringify({ event: "track_updated", test: true, data: { tracking_number: "SHIPPO_TRANSIT" } });
      await battery(sh.row.id, {
        valid: () => post(`${sh.path}?token=pbshippotoken0001`, shBody),
        refused: [
          ["no token", () => post(sh.path, shBody), 400, "webhook_signature_missing"],
          ["wrong token", () => post(`${sh.path}?token=nope`, shBody), 401, "webhook_signature_invalid"],
        ],
      });
    });

    it("a signing type without a stored webhook secret refuses (401), storing nothing", async () => {
      const { row, path } = await connect("stripe");
      const body = JSON.stringify({ id: "evt_x", type: "x" });
      const res = await post(path, body, { "stripe-signature": stripeHeader(body, "whsec_any", Math.floor(clockSeconds(t))) });
      assert.equal(res.statusCode, 401, res.body);
      assert.equal(res.json().code, "webhook_secret_missing");
      assert.deepEqual(await stored(row.id), { dedup: 0, events: 0 });
    });

    it("takes no API key, answers fast, is rate-limited per connector, has a body limit; a disconnected connector's URL is gone", async () => {
      const a = await connect("ups");
      const b = await connect("ups");
      const times: number[] = [];
      for (let i = 0; i < PER_MINUTE; i++) {
        const started = performance.now();
        const res = await post(a.path, JSON.stringify({ id: `evt-${i}` }));
        times.push(performance.now() - started);
        assert.equal(res.statusCode, 200, res.body);
      }
      times.sort((x, y) => x - y);
      assert.ok(times[Math.floor(times.length / 2)]! < 50, `median answer ${times[Math.floor(times.length / 2)]} ms`);
      const over = await post(a.path, JSON.stringify({ id: "evt-over" }));
      assert.equal(over.statusCode, 429, over.body);
      assert.equal(over.json().code, "inbound_webhook_rate_limited");
      assert.ok(over.headers["retry-after"]);
      assert.equal((await post(b.path, JSON.stringify({ id: "evt-b" }))).statusCode, 200, "another connector has its own limit");

      const big = await post(b.path, JSON.stringify({ id: "evt-big", pad: "x".repeat(BODY_LIMIT) }));
      assert.equal(big.statusCode, 413, big.body);

      assert.equal((await asKey(t, b.tenant)("DELETE", "/v1/integrations/ups", undefined, { "idempotency-key": "del-inbound" })).statusCode, 200);
      const gone = await post(b.path, JSON.stringify({ id: "evt-gone" }));
      assert.equal(gone.statusCode, 404, gone.body);
    });
  });
}
