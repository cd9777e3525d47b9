/**
 * The web console in a real browser: `npm run e2e:console`.
 * Not part of `npm test` (it needs Chromium: `apt-get install chromium`, or set
 * CHROMIUM_PATH). Starts a server on the embedded database, makes an entity and
 * a key through the admin API, and drives the console: sign-in refusal, connect,
 * credentials, a refused config shown in the dialog, pause, disconnect, restore.
 * Exits non-zero on the first failed check.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { chromium } from "playwright-core";
import { ADMIN_TOKEN } from "../test/helpers/app.ts";
import { startTestServerProcess } from "../test/helpers/process.ts";

const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (!fs.existsSync(executablePath)) {
  process.stderr.write(`No Chromium at ${executablePath}: install it (apt-get install chromium) or set CHROMIUM_PATH.\n`);
  process.exit(2);
}

const PLANTED = "sk_live_PLANTED_console_e2e_0123456789";
const server = await startTestServerProcess({});
const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
try {
  const admin = async (path: string, body: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 201);
    return (await res.json()) as Record<string, string>;
  };
  const entity = await admin("/admin/v1/entities", { name: "Console e2e" });
  const { key } = await admin(`/admin/v1/entities/${entity.id}/api-keys`, { name: "console", mode: "live", scopes: ["integrations:read", "integrations:write"] });

  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  const step = (name: string) => process.stdout.write(`✔ ${name}\n`);

  await page.goto(`${server.url}/`);
  await page.fill("#key", "ark_live_ent_not_a_key");
  await page.click("#sign-in-form button[type=submit]");
  await page.waitForSelector("#notice.error");
  assert.match((await page.textContent("#notice")) ?? "", /not valid/);
  step("a wrong key is refused with the API's message");

  await page.fill("#key", key!);
  await page.click("#sign-in-form button[type=submit]");
  await page.waitForSelector("#grid .card");
  assert.equal(await page.locator("#grid .card").count(), 16);
  step("signed in: one card per connector type");

  const stripe = page.locator(".card", { hasText: "Stripe" }).first();
  await stripe.locator("button", { hasText: "Connect" }).click();
  await page.fill("#f-display_name", "Stripe EU");
  await page.fill("#f-config", '{"currency":"eur"}');
  await page.click("#dialog-submit");
  await page.waitForSelector("#dialog[open] #f-secret_key");
  await page.fill("#f-secret_key", PLANTED);
  await page.click("#dialog-submit");
  await stripe.locator("dd", { hasText: "secret_key" }).waitFor();
  assert.match((await stripe.textContent()) ?? "", /Stripe EU/);
  step("connect, then credentials: the card shows the key name only");

  await stripe.locator("button", { hasText: "Settings" }).click();
  await page.fill("#f-config", '{"currency":"EURO"}');
  await page.click("#dialog-submit");
  await page.waitForSelector("#dialog-error:not([hidden])");
  assert.match((await page.textContent("#dialog-error")) ?? "", /config\.currency/);
  await page.click("#dialog-cancel");
  step("a refused config change is shown in the dialog, naming the field");

  await stripe.locator("button", { hasText: "Pause" }).click();
  await stripe.locator(".badge", { hasText: "paused" }).waitFor();
  page.once("dialog", (d) => void d.accept());
  await stripe.locator("button", { hasText: "Disconnect" }).click();
  await stripe.locator(".badge", { hasText: "disconnected" }).waitFor();
  await stripe.locator("button", { hasText: "Restore" }).click();
  await page.click("#dialog-submit");
  await stripe.locator("button", { hasText: "Settings" }).waitFor();
  assert.match((await stripe.textContent()) ?? "", /secret_key/);
  step("pause, disconnect and restore (credentials come back with it)");

  assert.ok(!(await page.content()).includes(PLANTED), "the credential is in the page");
  assert.ok(!server.stdout().includes(PLANTED) && !server.stderr().includes(PLANTED), "the credential is in the server log");
  assert.deepEqual(pageErrors, []);
  step("the credential appears neither in the page nor in the server log; no script errors");
} finally {
  await browser.close();
  await server.stop();
}
