import { createHmac } from "node:crypto";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { hiddenFields } from "./helpers/link-page.ts";
import { startServerProcess, tempDir, type ServerProcess } from "./helpers/process.ts";

/**
 * README "Customer connections → The walk-through", step by step, against a
 * real `npm start` server (scripts/start.mjs) on a fresh data dir with no
 * retailer configured: the demo gateway must make every step work.
 */
describe("the README's connections walk-through against npm start", () => {
  let server: ServerProcess;
  let dataDir: string;
  before(async () => {
    dataDir = tempDir();
    // What `PATCHBAY_WEBHOOK_ALLOW_PRIVATE=true npm start` sees on a fresh machine: no DATABASE_URL, no retailer URL, no admin token.
    server = await startServerProcess({ PATCHBAY_DATA_DIR: dataDir, PATCHBAY_WEBHOOK_ALLOW_PRIVATE: "true" }, 120_000, "scripts/start.mjs");
  });
  after(async () => {
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("steps 1–8 answer as the README shows", async () => {
    const BASE = server.url;
    const ADMIN = fs.readFileSync(path.join(dataDir, "admin-token"), "utf8").trim();
    const json = (headers: Record<string, string> = {}) => ({ "content-type": "application/json", ...headers });

    // 1. entity and key
    const entity = await (await fetch(`${BASE}/admin/v1/entities`, { method: "POST", headers: json({ authorization: `Bearer ${ADMIN}` }), body: JSON.stringify({ name: "Acme Inc" }) })).json();
    const keyRes = await fetch(`${BASE}/admin/v1/entities/${entity.id}/api-keys`, {
      method: "POST",
      headers: json({ authorization: `Bearer ${ADMIN}` }),
      body: JSON.stringify({ name: "backend", mode: "live", scopes: ["connections:read", "connections:write", "webhooks:manage"] }),
    });
    assert.equal(keyRes.status, 201);
    const KEY = (await keyRes.json()).key as string;

    // 2. a Subtotal webhook destination → the demo inbox
    const allTypes = ["connection.activated", "connection.unauthenticated", "connection.disconnected", "connection.deleted", "purchase.created"];
    const hook = await fetch(`${BASE}/webhooks`, {
      method: "POST",
      headers: json({ "x-api-key": KEY }),
      body: JSON.stringify({ name: "demo inbox", url: `${BASE}/demo/webhook-inbox`, accepts_simulated_events: true, events: allTypes }),
    });
    assert.equal(hook.status, 201, await hook.clone().text());
    const SIGNING_SECRET = (await hook.json()).signing_secret as string;
    assert.match(SIGNING_SECRET, /^whsec_/);

    // 3. connection, retailer by slug
    const created = await fetch(`${BASE}/connections`, {
      method: "POST",
      headers: json({ "x-api-key": KEY }),
      body: JSON.stringify({ customer_id: "8a46e581-48ba-498a-9ad0-2ee72582e1af", retailer_id: "walmart", email: "alice@example.com" }),
    });
    assert.equal(created.status, 201);
    const conn = await created.json();
    assert.equal(conn.status, "initialized");
    assert.equal(conn.retailer_id, "01J7SC0NN73R6F5VVSP3ZKPDA3");
    const CONN = conn.connection_id as string;

    // 4. link token, the page, the form posted as a browser does, the redirect followed
    const token = async (scope: string) =>
      (await (await fetch(`${BASE}/connections/${CONN}/token`, { method: "POST", headers: json({ "x-api-key": KEY }), body: JSON.stringify({ scope }) })).json()).connection_token as string;
    const LINK = await token("link");
    const redirect = `${BASE}/demo/linked`;
    const page = await fetch(`${BASE}/link?${new URLSearchParams({ connection_token: LINK, redirect_url: redirect })}`);
    assert.equal(page.status, 200);
    const cookie = page.headers.get("set-cookie")!.split(";")[0]!;
    const fields = hiddenFields(await page.text());
    assert.ok(fields.csrf_token, "the form carries a CSRF field");
    const posted = await fetch(`${BASE}/link`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie },
      body: new URLSearchParams({ ...fields, username: "alice@example.com", password: "demo-password" }).toString(),
    });
    assert.equal(posted.status, 303, await posted.text());
    const landing = await fetch(posted.headers.get("location")!);
    assert.equal(await landing.text(), `Linked: connection ${CONN}\n`);

    // 5. read it
    const ACCESS = await token("access");
    const auth = { "x-api-key": KEY, authorization: `Bearer ${ACCESS}` };
    const got = await (await fetch(`${BASE}/connections/${CONN}`, { headers: auth })).json();
    assert.equal(got.status, "active");

    // 6. purchases, after the first sync (a second or two)
    let list: { has_more: boolean; purchases: Array<{ purchase_id: string; date: string; total: string }> } = { has_more: false, purchases: [] };
    for (let i = 0; i < 100 && list.purchases.length < 3; i++) {
      list = await (await fetch(`${BASE}/purchases?limit=3`, { headers: auth })).json();
      if (list.purchases.length < 3) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(list.purchases.length, 3);
    assert.equal(list.has_more, true);
    const detail = await fetch(`${BASE}/purchases/${list.purchases[0]!.purchase_id}`, { headers: auth });
    assert.equal(detail.status, 200);
    assert.deepEqual(Object.keys(await detail.json()).sort(), ["date", "item_count", "items", "purchase_id", "subtotal", "tax", "total"]);
    const next = await (await fetch(`${BASE}/purchases?limit=3&starting_after=${list.purchases[2]!.purchase_id}`, { headers: auth })).json();
    assert.ok(next.purchases[0].date < list.purchases[2]!.date, "the next page continues with older purchases");

    // 7. the webhooks that reached the inbox
    let types: string[] = [];
    for (let i = 0; i < 100; i++) {
      const inbox = await (await fetch(`${BASE}/demo/webhook-inbox`)).json();
      types = inbox.webhooks.map((w: { body: { type: string } }) => w.body.type);
      if (types.filter((t) => t === "purchase.created").length === 30 && types.includes("connection.activated")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(types.filter((t) => t === "connection.activated").length, 1);
    assert.equal(types.filter((t) => t === "purchase.created").length, 30);
    // Each delivery verifies as docs.subtotal.com webhooks/verifying-signatures says (the inbox keeps the parsed body; our bodies re-serialise byte for byte).
    const inbox = await (await fetch(`${BASE}/demo/webhook-inbox`)).json();
    for (const w of inbox.webhooks as { headers: Record<string, string>; body: unknown }[]) {
      const signed = `${w.headers["x-subtotal-timestamp"]}.${JSON.stringify(w.body)}`;
      assert.equal(w.headers["x-subtotal-signature"], createHmac("sha256", SIGNING_SECRET).update(signed).digest("hex"));
    }
    const simulated = await fetch(`${BASE}/webhooks/simulate`, { method: "POST", headers: json({ "x-api-key": KEY }), body: "{}" });
    assert.equal(simulated.status, 202, await simulated.clone().text());
    assert.deepEqual((await simulated.json()).events.map((e: { type: string }) => e.type), allTypes);

    // 8. disconnect
    const patched = await fetch(`${BASE}/connections/${CONN}`, { method: "PATCH", headers: json(auth), body: JSON.stringify({ status: "disconnected" }) });
    assert.equal(patched.status, 200);
    assert.equal((await patched.json()).status, "disconnected");
  });
});
