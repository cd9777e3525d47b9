import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../src/config.ts";
import { openDatabase, type OpenDatabase } from "../src/db/index.ts";
import { DEMO_LOGINS, DEMO_PASSWORD, demoPurchasesSince } from "../src/demo/retailer-gateway.ts";
import { createRetailerGateway } from "../src/providers/retailers.ts";
import { createPurchaseSync, type PurchaseSync } from "../src/services/purchase-sync.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { ManualClock } from "./helpers/clock.ts";
import { asConnectionsKey, mintToken } from "./helpers/connections.ts";
import { createTenant } from "./helpers/fixtures.ts";
import { openLinkPage, submitLinkForm } from "./helpers/link-page.ts";

const quiet = { info() {}, warn() {} };

/**
 * The gateway, slowed down and watched: every purchases call is recorded (its
 * cursor) and answered after `delayMs`; `onRequest` may act before it answers.
 */
function slowGateway(clock: ManualClock, delayMs: number) {
  const calls: Array<{ cursor: string | null }> = [];
  let onRequest: (n: number) => void = () => {};
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", () => {
      const body = JSON.parse(raw || "{}");
      const ok = body.password === DEMO_PASSWORD;
      if (req.url!.endsWith("/login-checks")) {
        res.writeHead(ok ? 200 : 401, { "content-type": "application/json" }).end("{}");
        return;
      }
      calls.push({ cursor: body.cursor });
      onRequest(calls.length);
      setTimeout(() => {
        const page = demoPurchasesSince("walmart", body.username, body.cursor, body.limit, new Date(clock.now().getTime()));
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(page));
      }, delayMs);
    });
  });
  return {
    calls,
    set onRequest(fn: (n: number) => void) {
      onRequest = fn;
    },
    async listen() {
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

// Two Patchbay processes share one PostgreSQL: each its own pool and its own sync service.
describe("[postgres] the purchase sync across two instances on one PostgreSQL", () => {
  let t: TestApp;
  let second: OpenDatabase;
  let gateway: ReturnType<typeof slowGateway>;
  let syncA: PurchaseSync;
  let syncB: PurchaseSync;
  const clock = new ManualClock("2025-06-01T12:00:00Z");

  before(async () => {
    gateway = slowGateway(clock, 40);
    const url = await gateway.listen();
    t = await startTestApp("postgres", { clock, env: { PATCHBAY_PROVIDER_URL_RETAILERS: url } });
    second = await openDatabase({ kind: "postgres", url: t.database.url!, poolSize: 4 });
    const config = loadConfig({ PATCHBAY_PROVIDER_URL_RETAILERS: url, PATCHBAY_DEMO_RETAILER_GATEWAY: "false" });
    const deps = { clock, retailers: createRetailerGateway({ config }), vault: t.services.vault, intervalMs: 3_600_000, pageSize: 5 };
    syncA = createPurchaseSync({ ...deps, db: t.database.db });
    syncB = createPurchaseSync({ ...deps, db: second.db });
  });
  after(async () => {
    await second.close();
    await t.close();
    await gateway.close();
  });

  /** An active connection whose first sync has not run (the queued job is left alone). */
  async function activeConnection(): Promise<string> {
    const tenant = await createTenant(t);
    const created = await asConnectionsKey(t, tenant)("POST", "/connections", { customer_id: "c", retailer_id: "walmart" });
    const id = created.json().connection_id as string;
    const page = await openLinkPage(t, await mintToken(t, tenant, id, "link"));
    const linked = await submitLinkForm(t, page, { username: DEMO_LOGINS.good, password: DEMO_PASSWORD });
    assert.equal(linked.statusCode, 200, linked.body);
    return id;
  }

  const stored = async (id: string) => {
    const rows = await t.database.db.selectFrom("purchases").select(["retailer_purchase_id"]).where("connection_id", "=", id).execute();
    const events = await t.database.db
      .selectFrom("events")
      .select("id")
      .where("type", "=", "purchase.created")
      .where((eb) => eb(eb.ref("data", "->").key("connection" as never), "@>", JSON.stringify({ connection_id: id }) as never))
      .execute();
    return { purchases: rows.length, distinct: new Set(rows.map((r) => r.retailer_purchase_id)).size, events: events.length };
  };

  it("two syncs of one connection started together: one runs (6 pages of 5), the other is skipped; 30 purchases, 30 events, no duplicate", async () => {
    const id = await activeConnection();
    gateway.calls.length = 0;
    const [a, b] = await Promise.all([syncA.syncConnection(id, { logger: quiet }), syncB.syncConnection(id, { logger: quiet })]);
    assert.deepEqual([a.outcome, b.outcome].sort(), ["skipped", "synced"]);
    const ran = a.outcome === "synced" ? a : b;
    assert.equal(ran.created, 30);
    assert.equal(gateway.calls.length, ran.pages);
    assert.deepEqual(await stored(id), { purchases: 30, distinct: 30, events: 30 });
  });

  it("many rounds of both instances at once never store a purchase twice", async () => {
    const ids = await Promise.all([activeConnection(), activeConnection(), activeConnection()]);
    for (let round = 0; round < 3; round++) {
      await Promise.all(ids.flatMap((id) => [syncA.syncConnection(id, { logger: quiet }), syncB.syncConnection(id, { logger: quiet })]));
    }
    for (const id of ids) assert.deepEqual(await stored(id), { purchases: 30, distinct: 30, events: 30 });
  });

  it("a sync that dies after two pages leaves its lease; after the lease the other instance resumes from the committed cursor", async () => {
    const id = await activeConnection();
    gateway.calls.length = 0;
    const crash = new AbortController();
    // The third page request is the crash: this worker stops without releasing anything.
    gateway.onRequest = (n) => {
      if (n === 3) crash.abort();
    };
    const a = await syncA.syncConnection(id, { logger: quiet, signal: crash.signal });
    gateway.onRequest = () => {};
    assert.equal(a.outcome, "interrupted");
    assert.equal(a.created, 10, "the pages committed before the crash stay");
    const row = await t.database.db.selectFrom("connections").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
    assert.ok(row.sync_lease_token, "the dead sync still holds the lease");

    assert.equal((await syncB.syncConnection(id, { logger: quiet })).outcome, "skipped", "not before the lease runs out");
    clock.advance(121_000);
    const calls = gateway.calls.length;
    const b = await syncB.syncConnection(id, { logger: quiet });
    assert.equal(b.outcome, "synced");
    assert.equal(gateway.calls[calls]!.cursor, row.sync_cursor, "resumed from the cursor the dead sync committed");
    assert.equal(b.created, 20);
    assert.deepEqual(await stored(id), { purchases: 30, distinct: 30, events: 30 });
  });

  it("a sync that lost its lease (stalled past it while another took over) commits nothing more", async () => {
    const id = await activeConnection();
    gateway.calls.length = 0;
    let bRun: Promise<unknown> | null = null;
    gateway.onRequest = (n) => {
      // While A waits for its second page, its lease runs out and B takes the connection over.
      if (n === 2) {
        clock.advance(121_000);
        bRun = syncB.syncConnection(id, { logger: quiet });
      }
    };
    const a = await syncA.syncConnection(id, { logger: quiet });
    gateway.onRequest = () => {};
    await bRun;
    assert.equal(a.outcome, "interrupted");
    assert.equal(a.created, 5, "A committed only its first page");
    assert.deepEqual(await stored(id), { purchases: 30, distinct: 30, events: 30 });
  });
});
