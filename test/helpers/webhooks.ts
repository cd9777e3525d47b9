import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import { sql } from "kysely";
import { emitEvent, type EventType } from "../../src/services/outbox.ts";
import type { TestApp } from "./app.ts";
import { startFakeProvider, type FakeReply, type RecordedRequest } from "./fake-provider.ts";
import { asKey, type Tenant } from "./fixtures.ts";

// The README's verification snippet (Webhooks → Verifying a delivery), with TypeScript's types.
function verifyPatchbaySignature(header: string, rawBody: string, secret: string, now = Date.now() / 1000) {
  const parts = header.split(",").map((p) => p.split("="));
  const t = parts.find(([k]) => k === "t")?.[1];
  if (!t || !/^\d+$/.test(t) || Math.abs(now - Number(t)) > 300) return false;
  const expected = createHmac("sha256", secret).update(`${t}.${rawBody}`).digest();
  return parts.some(([k, v]) => k === "v1" && /^[0-9a-f]{64}$/.test(v ?? "") && timingSafeEqual(Buffer.from(v!, "hex"), expected));
}
export { verifyPatchbaySignature };

/**
 * A Sendcloud webhook receiver's check, written from the Sendcloud v3 webhooks
 * spec's description (api-evangelist/sendcloud,
 * openapi/_original/sendcloud-v3-webhooks-openapi.yml): hash the message
 * received with your key using HMAC with SHA256 and compare it against the
 * Sendcloud-Signature header. Not Patchbay's helper.
 */
export function verifySendcloudSignature(header: string | string[] | undefined, rawBody: string, key: string): boolean {
  if (typeof header !== "string" || !/^[0-9a-f]{64}$/.test(header)) return false;
  const mine = createHmac("sha256", Buffer.from(key, "utf8")).update(Buffer.from(rawBody, "utf8")).digest();
  return timingSafeEqual(mine, Buffer.from(header, "hex"));
}

/**
 * A webhook receiver on 127.0.0.1. It answers with `statuses` in turn (the
 * last one for every request after), and records every request.
 */
export async function startReceiver(statuses: number[] = [200]) {
  let n = 0;
  const script: { next: (req: RecordedRequest) => FakeReply } = {
    next: () => ({ status: statuses[Math.min(n++, statuses.length - 1)], body: { ok: true } }),
  };
  const fake = await startFakeProvider({
    "POST /hook": (req) => script.next(req),
    "POST /shop": () => ({ status: 200 }),
  });
  return {
    url: `${fake.url}/hook`,
    shopUrl: `${fake.url}/shop`,
    requests: fake.requests,
    hooks: () => fake.requests.filter((r) => r.path === "/hook"),
    /** From now on, answer these statuses in turn. */
    answer(next: number[]) {
      n = 0;
      statuses = next;
    },
    close: fake.close,
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

export async function createEndpoint(t: TestApp, tenant: Tenant, body: Record<string, unknown>): Promise<{ id: string; secret: string } & Record<string, unknown>> {
  const res = await asKey(t, tenant)("POST", "/v1/webhook_endpoints", body);
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

/** Emits an event the way a service does: inside a transaction that commits. */
export async function emit(t: TestApp, entityId: string, type: EventType, data: object): Promise<string> {
  return t.database.db.transaction().execute((trx) => emitEvent(trx, { entityId, type, data, at: t.clock.now() }));
}

export async function deliveriesOf(t: TestApp, tenant: Tenant, endpointId: string): Promise<Record<string, any>[]> {
  const res = await asKey(t, tenant)("GET", `/v1/webhook_endpoints/${endpointId}/deliveries`);
  assert.equal(res.statusCode, 200, res.body);
  return res.json().data;
}

export async function count(t: TestApp, table: "events" | "webhook_deliveries" | "jobs", where = sql`true`): Promise<number> {
  const { rows } = await sql<{ n: string }>`select count(*) as n from ${sql.table(table)} where ${where}`.execute(t.database.db);
  return Number(rows[0]!.n);
}

/** The clock's now in unix seconds (signatures carry the injected clock's time). */
export function clockSeconds(t: TestApp): number {
  return t.clock.now().getTime() / 1000;
}
