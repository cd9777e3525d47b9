/**
 * The web console in a real browser: `npm run test:console` (CI runs it).
 * Installs Debian's chromium with apt-get when /usr/bin/chromium is missing
 * (or set CHROMIUM_PATH), builds the console, starts a server on the embedded
 * database and drives every page through the UI with playwright-core: an
 * operator signs in with the admin token, creates an entity and a key (rolls
 * one, revokes one), signs in with it, connects Stripe from its config_schema
 * form, stores a planted credential and webhook secret, verifies, pauses,
 * disconnects and restores; adds a webhook endpoint (its deliveries reach a
 * local receiver), rotates its secret, retries a delivery; reads the audit
 * log; creates a customer connection, mints its link URL, disconnects it;
 * edits a shop integration; downloads the API collection. After every step
 * the planted secrets are searched in the DOM, in every network response and
 * in the server log (0 hits), and axe-core runs on every page (0 serious or
 * critical violations). Stripe and Shopify are local fakes: Stripe verifies
 * "ok" and its provider-call log shows the call; Shopify's OAuth URL is
 * driven in the browser and its card updates itself when the callback
 * completes. A customer links through the hosted link page (the demo
 * retailer gateway) and the console reads the purchases; a create whose
 * answer is lost is retried with the same Idempotency-Key (one connection);
 * Tab stays inside an open dialog, Escape closes it and focus returns to its
 * button. A webhook test event is delivered and its body read; twelve
 * shop-integration exceptions are reported and paged; a 404 is found in the
 * API logs by its request id; the operator sees each key's last use; a key
 * without webhooks:manage is told so on the webhooks page; the Postman
 * collection carries each API's auth as variables. Screenshots of each page at
 * 1280×800 and 390×844 go to docs/console/. Exits non-zero on the first failed check.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { chromium, type Page } from "playwright-core";
import { ensureConsoleBuilt } from "./build-console.mjs";
import { ADMIN_TOKEN } from "../test/helpers/app.ts";
import { startFakeProvider } from "../test/helpers/fake-provider.ts";
import { shopifyEnv, signedCallback, startFakeShopify } from "../test/helpers/fake-shopify.ts";
import { ROOT, startTestServerProcess } from "../test/helpers/process.ts";

const started = Date.now();
const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (!fs.existsSync(executablePath)) {
  process.stdout.write(`No Chromium at ${executablePath}: installing Debian's chromium\n`);
  let install = spawnSync("apt-get", ["install", "-y", "chromium"], { stdio: "inherit" });
  if (install.status !== 0) {
    spawnSync("apt-get", ["update"], { stdio: "inherit" });
    install = spawnSync("apt-get", ["install", "-y", "chromium"], { stdio: "inherit" });
  }
  if (install.status !== 0 || !fs.existsSync(executablePath)) {
    process.stderr.write("Could not install chromium (apt-get install -y chromium).\n");
    process.exit(2);
  }
}

await ensureConsoleBuilt();

const PLANTED = "sk_live_PLANTEDconsole0123456789";
const PLANTED_WEBHOOK = "whsec_PLANTEDconsole0123456789";
/** Secrets the page must never hold: the planted ones, and those learnt on the way (Shopify's access token). */
const secrets = [PLANTED, PLANTED_WEBHOOK];
const SHOTS = path.join(ROOT, "docs", "console");
fs.mkdirSync(SHOTS, { recursive: true });

// A local webhook receiver: the first delivery to /hooks fails (500), later ones succeed; /subtotal counts the connection webhooks.
let received = 0;
let subtotalReceived = 0;
const receiver = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    if (req.url === "/subtotal") {
      subtotalReceived += 1;
      return void res.writeHead(200).end();
    }
    received += 1;
    res.writeHead(received === 1 ? 500 : 200).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks`;

// Stripe: GET /v1/account answers 200 for the planted secret key only (as Stripe answers 401 for any other).
const fakeStripe = await startFakeProvider({
  "GET /v1/account": (req) => (req.headers.authorization === `Bearer ${PLANTED}` ? { body: { id: "acct_console", object: "account" } } : { status: 401, body: { error: { type: "invalid_request_error" } } }),
});
const fakeShopify = await startFakeShopify();
const { PATCHBAY_PUBLIC_URL: _public, ...shopify } = shopifyEnv(fakeShopify);
const server = await startTestServerProcess({
  PATCHBAY_JOBS: "true",
  PATCHBAY_WEBHOOK_ALLOW_PRIVATE: "true",
  PATCHBAY_PROVIDER_URL_STRIPE: fakeStripe.url,
  ...shopify,
});
const browser = await chromium.launch({ executablePath, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
const axeSource = fs.readFileSync(path.join(ROOT, "node_modules", "axe-core", "axe.min.js"), "utf8");
const responses: string[] = [];
const pageErrors: string[] = [];
const checked = new Set<string>();
let failed = false;
let current: Page | undefined;

function step(name: string) {
  process.stdout.write(`✔ ${name}\n`);
}

/** The planted secrets are nowhere: the DOM (with input values), any response so far, the server's log. */
async function noLeak(page: Page, where: string) {
  const dom = await page.evaluate(() => document.documentElement.outerHTML + [...document.querySelectorAll("input, textarea")].map((i) => (i as HTMLInputElement).value).join("\n"));
  for (const secret of secrets) {
    assert.ok(!dom.includes(secret), `${where}: a planted secret is in the DOM`);
    assert.ok(!responses.some((r) => r.includes(secret)), `${where}: a planted secret is in a network response`);
    assert.ok(!server.stdout().includes(secret) && !server.stderr().includes(secret), `${where}: a planted secret is in the server log`);
  }
}

/** axe-core on the page as it is (0 serious or critical), once per page name, and its screenshots at both sizes. */
async function audit(page: Page, name: string) {
  await noLeak(page, name);
  if (checked.has(name)) return;
  checked.add(name);
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await (window as unknown as { axe: { run: (o: unknown) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe.run({ resultTypes: ["violations"] });
    return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  assert.deepEqual(violations, [], `${name}: axe found serious or critical violations`);
  assert.equal(await page.locator("main").count(), 1, `${name}: one main landmark`);
  assert.ok(await page.locator("main").getAttribute("aria-labelledby"), `${name}: the main landmark is named`);
  await page.screenshot({ path: path.join(SHOTS, `${name}-1280.png`) });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(SHOTS, `${name}-390.png`) });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `${name}: the page scrolls sideways at 390 px (${overflow} px)`);
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** Polls a condition (the page's CSP forbids page.waitForFunction's eval). */
async function until(check: () => Promise<boolean>, what: string) {
  for (let i = 0; i < 50; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting until ${what}`);
}

/** Tab and Shift+Tab through the open dialog: focus never leaves it. */
async function focusStaysInDialog(page: Page, where: string) {
  const inside = () => page.evaluate(() => Boolean(document.querySelector("dialog[open]")?.contains(document.activeElement)));
  const seen = new Set<string>();
  for (const key of [...Array(25).fill("Tab"), ...Array(10).fill("Shift+Tab")]) {
    await page.keyboard.press(key);
    assert.ok(await inside(), `${where}: ${key} moved focus out of the dialog`);
    seen.add(await page.evaluate(() => (document.activeElement as HTMLElement).outerHTML.slice(0, 80)));
  }
  assert.ok(seen.size > 3, `${where}: Tab moved through the dialog's controls`);
}

async function go(page: Page, section: string) {
  await page.getByRole("navigation", { name: "Console sections" }).getByRole("link", { name: section, exact: true }).click();
  await page.locator("#page-title", { hasText: section }).waitFor();
}

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
  const page = await context.newPage();
  current = page;
  page.setDefaultTimeout(10_000);
  page.on("pageerror", (e) => pageErrors.push(e.message));
  context.on("response", async (res) => {
    try {
      responses.push(await res.text());
    } catch {
      // A body that is gone (a redirect, an aborted request) has nothing to search.
    }
  });

  // Every console path is the app (client-side routing), not a 404.
  for (const p of ["/console", "/console/keys", "/console/webhooks", "/console/connections", "/console/audit", "/console/shop-integrations", "/console/connectors", "/console/collection", "/console/entities", "/console/api-logs", "/console/connection-webhooks"]) {
    const res = await fetch(`${server.url}${p}`);
    assert.equal(res.status, 200, p);
    assert.match(res.headers.get("content-security-policy") ?? "", /script-src 'self'/);
  }
  step("every console path serves the app under the strict CSP");

  // Sign-in: a wrong key is refused once, with progress and the API's words; a right token clears it.
  await page.goto(`${server.url}/console`);
  await audit(page, "sign-in");
  await page.fill("#secret", "ark_live_ent_not_a_real_key_0000000000000000");
  await page.click("button[type=submit]");
  await page.locator(".error").waitFor();
  assert.equal(await page.locator(".error").count(), 1);
  assert.match((await page.locator(".error").textContent()) ?? "", /not valid/);
  await page.fill("#secret", ADMIN_TOKEN);
  await page.click("button[type=submit]");
  await page.locator("#page-title", { hasText: "Entities" }).waitFor();
  assert.equal(await page.locator(".error").count(), 0);
  step("sign-in: a wrong key is refused once with the API's message; the admin token signs in");

  // Entities: create one.
  await page.getByText("No entity yet").waitFor();
  await audit(page, "entities");
  await page.fill("input[name=name]", "Acme Retail");
  await page.getByRole("button", { name: "Create entity" }).click();
  await page.getByRole("cell", { name: "Acme Retail", exact: true }).waitFor();
  step("operator: entity created");

  // API keys (reached from the entity's row): create (secret once, copy), create another, search/filter, roll, revoke.
  await page.getByRole("button", { name: "API keys of Acme Retail" }).click();
  await page.locator("#page-title", { hasText: "Developers › API keys" }).waitFor();
  await page.getByText("no API key yet").waitFor();
  await audit(page, "keys");
  const createKey = async (name: string, mode: "test" | "live", tier?: string, without: string[] = []) => {
    await page.getByRole("button", { name: "Create API key" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.locator("input[name=name]").fill(name);
    await dialog.locator("select[name=mode]").selectOption(mode);
    // The scope vocabulary is the server's (its OpenAPI document), proxy included.
    await dialog.getByLabel("request_logs:read").waitFor();
    if (tier) await dialog.getByLabel("Rate-limit tier").selectOption(tier);
    for (const scope of without) await dialog.getByLabel(scope, { exact: true }).uncheck();
    await dialog.getByRole("button", { name: "Create the key" }).click();
    await dialog.getByRole("button", { name: "Copy the secret" }).waitFor();
    const secret = (await dialog.locator(".secret code").textContent())!;
    assert.match(secret, new RegExp(`^ark_${mode}_ent_`));
    return { dialog, secret };
  };
  const first = await createKey("billing", "live", "elevated");
  await audit(page, "keys-created");
  await first.dialog.getByRole("button", { name: "Copy the secret" }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), first.secret);
  await first.dialog.getByRole("button", { name: "Done" }).click();
  assert.ok(!(await page.content()).includes(first.secret), "the secret stays in the page after the dialog closes");
  const second = await createKey("legacy", "test");
  await second.dialog.getByRole("button", { name: "Done" }).click();
  await page.getByRole("button", { name: "Revoke key legacy" }).waitFor();
  const billingRow = page.getByRole("row").filter({ hasText: "billing" });
  assert.match((await billingRow.textContent()) ?? "", /elevated: 1200\/min, burst 100/, "the elevated tier was chosen");
  assert.match((await billingRow.textContent()) ?? "", /never|—/, "a key not used yet");
  await page.locator("select").nth(1).selectOption("live");
  assert.equal(await page.getByRole("button", { name: "Revoke key legacy" }).count(), 0);
  await page.locator("select").nth(1).selectOption("all");
  await page.fill("input[type=search]", "legacy");
  assert.equal(await page.getByRole("button", { name: "Roll key billing" }).count(), 0);
  await page.fill("input[type=search]", "");
  step("API keys: created (elevated tier, the server's scopes) with the secret shown once and copied; mode filter and search");

  // A test key signs in with the test-mode banner; then the operator is back.
  await page.getByRole("button", { name: "Create API key" }).waitFor();
  const third = await createKey("sandbox", "test", undefined, ["webhooks:manage"]);
  await third.dialog.getByRole("button", { name: "Sign in with this key" }).click();
  await page.getByRole("note").filter({ hasText: "Test mode" }).waitFor();
  await page.locator('.card[data-type="stripe"]').waitFor();
  // What the key may do follows its scopes: without webhooks:manage, the webhooks page says so instead of failing.
  await go(page, "Developers › Webhooks");
  await page.getByText("This key has no webhooks:manage scope").waitFor();
  assert.equal(await page.getByRole("button", { name: "Add webhook endpoint" }).count(), 0);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.fill("#secret", ADMIN_TOKEN);
  await page.click("button[type=submit]");
  await go(page, "Developers › API keys");
  step("a test key signs in with the test-mode banner; a page its scopes do not cover says so; sign out and back in as the operator");

  await page.getByRole("button", { name: "Revoke key legacy" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Revoke key legacy" }).click();
  await page.getByText("revoked", { exact: true }).waitFor();
  await page.getByRole("button", { name: "Roll key billing" }).click();
  await page.getByRole("dialog").locator("select").selectOption("3600");
  await page.getByRole("dialog").getByRole("button", { name: "Roll key billing" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Sign in with this key" }).waitFor();
  const rolled = (await page.getByRole("dialog").locator(".secret code").textContent())!;
  const rolledPublic = (await page.getByRole("dialog").locator("p.small code").textContent())!;
  assert.match(rolledPublic, /^pk_/);
  assert.notEqual(rolled, first.secret);
  const oldStillWorks = await fetch(`${server.url}/v1/integrations/catalog`, { headers: { authorization: `Bearer ${first.secret}` } });
  assert.equal(oldStillWorks.status, 200, "the rolled key works during its overlap");
  step("API keys: revoke with confirmation; roll with a 1 h overlap (the old secret still works)");

  await page.getByRole("dialog").getByRole("button", { name: "Sign in with this key" }).click();
  await page.locator("#page-title", { hasText: "Connectors" }).waitFor();
  assert.equal(await page.getByRole("note").filter({ hasText: "Test mode" }).count(), 0);
  await page.locator(".card").first().waitFor();
  assert.equal(await page.locator(".card").count(), 16);
  await audit(page, "connectors");
  step("signed in with the rolled live key: no test-mode banner, one card per connector type");

  // Connectors: Stripe from its config_schema, a refused value shown once next to its field.
  const stripe = page.locator('.card[data-type="stripe"]');
  await stripe.getByRole("button", { name: "Connect Stripe" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Display name").waitFor();
  await focusStaysInDialog(page, "the Stripe connect dialog");
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  await stripe.getByRole("button", { name: "Connect Stripe" }).click();
  await dialog.getByLabel("Display name").fill("Stripe EU");
  await dialog.getByLabel("Currency").fill("EURO");
  await dialog.getByRole("button", { name: "Connect Stripe" }).click();
  await dialog.locator(".field-error").waitFor();
  assert.match((await dialog.locator(".field-error").textContent()) ?? "", /Currency is not in the expected form/);
  assert.equal(await dialog.locator(".error").count(), 0, "the error is shown once, next to its field");
  await audit(page, "connectors-connect");
  await dialog.getByLabel("Currency").fill("eur");
  await dialog.getByLabel("Capture method").selectOption("manual");
  await dialog.getByRole("button", { name: "Connect Stripe" }).click();
  await stripe.getByText("needs credentials").waitFor();
  step("connect Stripe from its config_schema form: a bad currency is explained at the field; then it needs credentials");

  await stripe.getByRole("button", { name: "Credentials Stripe" }).click();
  assert.equal(await dialog.getByLabel("Secret key").getAttribute("type"), "password");
  await dialog.getByLabel("Secret key").fill(PLANTED);
  await dialog.getByLabel("Webhook signing secret").fill(PLANTED_WEBHOOK);
  await dialog.getByRole("button", { name: "Store Stripe credentials" }).click();
  await dialog.waitFor({ state: "detached" });
  await stripe.getByText("Secret key", { exact: true }).waitFor();
  assert.notEqual(await stripe.locator(".badge").textContent(), "needs credentials");
  await noLeak(page, "credentials stored");
  step("credentials through password fields: the card names the key, never shows it");

  await stripe.getByRole("button", { name: "Verify Stripe" }).click();
  await stripe.getByRole("status").filter({ hasText: "The provider accepted the credentials." }).waitFor();
  assert.equal(await stripe.locator(".badge").textContent(), "active");
  assert.ok(fakeStripe.requests.some((r) => r.path === "/v1/account" && r.headers.authorization === `Bearer ${PLANTED}`), "verify called Stripe's GET /v1/account");
  // The inbound webhook URL, with a copy button.
  const inbound = (await stripe.locator(".linkbox code").textContent())!;
  assert.ok(inbound.startsWith(`${server.url}/`), inbound);
  await stripe.getByRole("button", { name: "Copy the Stripe webhook URL" }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), inbound);
  // The provider-call log: the verification, with its status.
  await stripe.getByRole("button", { name: "Provider calls Stripe" }).click();
  await dialog.getByRole("cell", { name: "GET /v1/account" }).first().waitFor();
  assert.ok((await dialog.locator("tbody tr").allTextContents()).some((t) => /^.*Verify.*GET \/v1\/account200/.test(t)), "the verification is in the log");
  await audit(page, "connectors-calls");
  await dialog.getByLabel("Status").selectOption("5xx");
  await dialog.getByText("No call with that status yet").waitFor();
  await dialog.getByRole("button", { name: "Close" }).click();
  await until(async () => (await page.evaluate(() => document.activeElement?.textContent ?? "")) === "Provider calls Stripe", "focus is back on the button that opened the dialog");
  step("Stripe (a local fake) verifies ok; the webhook URL is copied; the provider-call log shows the verification, filtered by status");
  await stripe.getByRole("button", { name: "Pause Stripe" }).click();
  await stripe.locator(".badge", { hasText: "paused" }).waitFor();
  await stripe.getByRole("button", { name: "Resume Stripe" }).click();
  await stripe.getByRole("button", { name: "Pause Stripe" }).waitFor();
  await stripe.getByRole("button", { name: "Disconnect Stripe" }).click();
  await dialog.getByRole("button", { name: "Disconnect Stripe" }).click();
  await stripe.locator(".badge", { hasText: "disconnected" }).waitFor();
  assert.match((await stripe.textContent()) ?? "", /Restorable until/);
  await stripe.getByRole("button", { name: "Restore Stripe" }).click();
  await dialog.getByRole("button", { name: "Restore Stripe" }).click();
  await stripe.getByRole("button", { name: "Settings Stripe" }).waitFor();
  assert.match((await stripe.textContent()) ?? "", /Secret key/);
  await audit(page, "connectors-connected");
  step("pause/resume; disconnect shows the restore deadline; restore brings the credentials back");

  // Shopify: the OAuth URL opens in a new tab; "Shopify" approves (a 302 to the callback, signed as Shopify signs it); the card updates itself.
  const shop = "acme-store.myshopify.com";
  await context.route(`https://${shop}/admin/oauth/authorize**`, async (route) => {
    const asked = new URL(route.request().url());
    const query = await signedCallback({ code: fakeShopify.issueCode(shop), shop, state: asked.searchParams.get("state")! });
    await route.fulfill({ status: 302, headers: { location: `${asked.searchParams.get("redirect_uri")}?${query}` } });
  });
  const shopifyCard = page.locator('.card[data-type="shopify"]');
  await shopifyCard.getByRole("button", { name: "Connect Shopify" }).click();
  await dialog.getByLabel("Shop domain").fill(shop);
  const [approval] = await Promise.all([context.waitForEvent("page"), dialog.getByRole("button", { name: "Continue to Shopify" }).click()]);
  await approval.getByRole("heading", { name: "Shopify is connected" }).waitFor();
  await approval.close();
  await dialog.waitFor({ state: "detached" });
  await shopifyCard.locator(".badge", { hasText: "active" }).waitFor();
  assert.equal(fakeShopify.tokenCalls().length, 1, "the code was exchanged once");
  secrets.push(fakeShopify.issued.at(-1)!.access);
  if (fakeShopify.issued.at(-1)!.refresh) secrets.push(fakeShopify.issued.at(-1)!.refresh!);
  await noLeak(page, "Shopify connected");
  step("Shopify: the OAuth URL opened in a new tab, the callback completed, the card turned active by itself; its tokens are nowhere in the page");

  // Webhooks: an endpoint for every event, a delivery (first failed, retried), pause, rotate, delete.
  await go(page, "Developers › Webhooks");
  await page.getByText("No webhook endpoint yet").waitFor();
  await audit(page, "webhooks");
  await page.getByRole("button", { name: "Add webhook endpoint" }).click();
  await dialog.getByLabel("Endpoint URL").fill(receiverUrl);
  await dialog.getByLabel("All events (*), including ones added later").check();
  await dialog.getByRole("button", { name: "Add the endpoint" }).click();
  await dialog.getByRole("button", { name: "Copy the signing secret" }).waitFor();
  const signing = (await dialog.locator(".secret code").textContent())!;
  await dialog.getByRole("button", { name: "Done" }).click();
  assert.ok(!(await page.content()).includes(signing));
  // An event to deliver: Stripe's settings change, through its settings form.
  await go(page, "Connectors");
  await stripe.getByRole("button", { name: "Settings Stripe" }).click();
  assert.equal(await dialog.getByLabel("Currency").inputValue(), "eur", "the settings form starts from the stored config");
  await dialog.getByLabel("Display name").fill("Stripe Europe");
  await dialog.getByRole("button", { name: "Save Stripe settings" }).click();
  await dialog.waitFor({ state: "detached" });
  await stripe.getByText("Stripe Europe").waitFor();
  await go(page, "Developers › Webhooks");
  for (let i = 0; i < 60 && received === 0; i++) await new Promise((r) => setTimeout(r, 250));
  assert.ok(received >= 1, "the webhook job delivered the event");
  await page.getByRole("button", { name: `Deliveries of ${receiverUrl}` }).click();
  await dialog.locator("details.delivery").first().waitFor();
  await dialog.locator("details.delivery summary").first().click();
  assert.match((await dialog.locator("details.delivery").first().textContent()) ?? "", /500/);
  await audit(page, "webhooks-deliveries");
  await dialog.locator("details.delivery").first().getByRole("button", { name: /^Retry delivery / }).click();
  for (let i = 0; i < 40 && received < 2; i++) await new Promise((r) => setTimeout(r, 250));
  assert.ok(received >= 2, "the retry was delivered");
  await dialog.getByRole("button", { name: "Close" }).click();
  await page.getByRole("button", { name: `Pause ${receiverUrl}` }).click();
  await page.getByRole("button", { name: `Resume ${receiverUrl}` }).waitFor();
  await page.getByRole("button", { name: `Rotate secret of ${receiverUrl}` }).click();
  await dialog.getByRole("button", { name: "Rotate the secret" }).click();
  await dialog.getByRole("button", { name: "Copy the signing secret" }).waitFor();
  assert.notEqual(await dialog.locator(".secret code").textContent(), signing);
  await dialog.getByRole("button", { name: "Done" }).click();
  step("webhooks: endpoint with all events, secret once, deliveries with attempts (500, then retried), pause/resume, rotate");

  // A test event (to an active endpoint: resume it), and the body each delivery carried.
  assert.equal(await page.getByRole("button", { name: `Send a test event to ${receiverUrl}` }).count(), 0, "no test event to a paused endpoint");
  await page.getByRole("button", { name: `Resume ${receiverUrl}` }).click();
  await page.getByRole("button", { name: `Pause ${receiverUrl}` }).waitFor();
  const beforeTest = received;
  await page.getByRole("button", { name: `Send a test event to ${receiverUrl}` }).click();
  await page.getByRole("status").filter({ hasText: "webhook.test event is queued" }).waitFor();
  for (let i = 0; i < 60 && received === beforeTest; i++) await new Promise((r) => setTimeout(r, 250));
  assert.ok(received > beforeTest, "the test event was delivered");
  await page.getByRole("button", { name: `Deliveries of ${receiverUrl}` }).click();
  const testDelivery = dialog.locator("details.delivery", { hasText: "webhook.test" });
  await until(async () => {
    if ((await testDelivery.count()) > 0 && /succeeded/.test((await testDelivery.first().locator("summary").first().textContent()) ?? "")) return true;
    await dialog.getByRole("button", { name: "Close" }).click();
    await page.getByRole("button", { name: `Deliveries of ${receiverUrl}` }).click();
    await dialog.locator("details.delivery").first().waitFor();
    return false;
  }, "the test event's delivery succeeded");
  await testDelivery.first().locator("summary").first().click();
  await testDelivery.first().getByText("Delivered body of webhook.test").click();
  const testBody = JSON.parse((await testDelivery.first().locator("pre").textContent())!);
  assert.equal(testBody.type, "webhook.test", "the delivered body is the event");
  const updated = dialog.locator("details.delivery", { hasText: "connector.updated" }).first();
  await updated.locator("summary").first().click();
  await updated.getByText("Delivered body of connector.updated").click();
  assert.match((await updated.locator("pre").textContent()) ?? "", /Stripe Europe/, "the connector.updated body carries the change");
  await audit(page, "webhooks-body");
  await dialog.getByRole("button", { name: "Close" }).click();
  step("webhooks: a test event sent and delivered; each delivery shows the body it carried");

  // An endpoint for a family wildcard and one more event type; then deleted with confirmation.
  await page.getByRole("button", { name: "Add webhook endpoint" }).click();
  await dialog.getByLabel("Endpoint URL").fill(`${receiverUrl}?family`);
  await dialog.getByLabel("Every connector event (connector.*)").check();
  await dialog.getByLabel("connection.activated").check();
  await dialog.getByRole("button", { name: "Add the endpoint" }).click();
  await dialog.getByRole("button", { name: "Copy the signing secret" }).waitFor();
  await dialog.getByRole("button", { name: "Done" }).click();
  const familyCard = page.getByRole("article", { name: `Webhook endpoint ${receiverUrl}?family` });
  assert.match((await familyCard.textContent()) ?? "", /Events: every connector event, connection\.activated/);
  await page.getByRole("button", { name: `Delete ${receiverUrl}?family` }).click();
  await dialog.getByRole("button", { name: `Delete ${receiverUrl}?family` }).click();
  await familyCard.waitFor({ state: "detached" });
  assert.equal(await page.getByRole("article", { name: `Webhook endpoint ${receiverUrl}` }).count(), 1);
  step("webhooks: an endpoint for connector.* and connection.activated, deleted with confirmation");

  // Audit log: filters and the before/after.
  await go(page, "Audit log");
  await page.locator("details.audit").first().waitFor();
  await page.getByLabel("Target type").selectOption("connector");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await until(async () => (await page.locator("details.audit summary").allTextContents()).every((t) => / · connector /.test(t)), "only connector events are listed");
  await page.locator("details.audit summary", { hasText: "connector.updated" }).first().click();
  await page.getByRole("cell", { name: "display_name" }).first().waitFor();
  assert.ok(await page.locator("details.audit").count() > 0);
  for (const summary of await page.locator("details.audit summary").allTextContents()) assert.match(summary, /connector/);
  await audit(page, "audit");
  // Paging: ten a page, older events on the next.
  await page.getByLabel("Target type").selectOption("");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await until(async () => /^webhook_endpoint\.deleted/.test((await page.locator("details.audit summary").first().textContent()) ?? ""), "every target type, newest first");
  assert.equal(await page.locator("details.audit").count(), 10, "a full page of audit events");
  const auditFirst = await page.locator("details.audit summary").first().textContent();
  await page.getByRole("navigation", { name: "Pages of the audit log" }).getByRole("button", { name: "Next page" }).click();
  await page.getByText("Page 2").waitFor();
  await until(async () => (await page.locator("details.audit summary").first().textContent()) !== auditFirst, "page 2 shows older events");
  await page.getByRole("button", { name: "Previous page" }).click();
  await page.getByText("Page 1").waitFor();
  await until(async () => (await page.locator("details.audit summary").first().textContent()) === auditFirst, "page 1 again");
  step("audit log: filtered by target type, with the before/after of a change; pages of ten, next and previous");

  // Customer connections: create (its answer lost once: the retry reuses the Idempotency-Key), link URL, the link page, purchases, link tokens, disconnect, delete.
  await go(page, "Customer connections");
  await audit(page, "connections");
  await page.getByRole("button", { name: "Create connection" }).click();
  await dialog.getByLabel("Customer ID").fill("cus_42");
  const sentKeys: string[] = [];
  await page.route(`${server.url}/connections`, async (route) => {
    if (route.request().method() !== "POST") return route.continue();
    sentKeys.push((await route.request().headerValue("idempotency-key")) ?? "");
    if (sentKeys.length > 1) return route.continue();
    await route.fetch(); // The server creates the connection; its answer is lost on the way back.
    await route.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ detail: "The answer was lost on the way." }) });
  });
  await dialog.getByRole("button", { name: "Create the connection" }).click();
  await dialog.locator(".error", { hasText: "lost on the way" }).waitFor();
  assert.equal(await dialog.locator(".error").count(), 1, "the failure is shown once");
  await dialog.getByRole("button", { name: "Create the connection" }).click();
  await page.locator("article.card").first().waitFor();
  await page.unroute(`${server.url}/connections`);
  assert.equal(sentKeys.length, 2);
  assert.ok(sentKeys[0]!.length > 0 && sentKeys[0] === sentKeys[1], `the retry sent the same Idempotency-Key (${sentKeys.join(" / ")})`);
  const listed = await fetch(`${server.url}/connections?customer_id=cus_42`, { headers: { "x-api-key": rolled } });
  assert.equal((await listed.json()).connections.length, 1, "one connection exists after the retried click");
  assert.equal(await page.locator("article.card").count(), 1);
  step("customer connections: a create whose answer was lost, clicked again, sent the same Idempotency-Key and made one connection");

  await page.getByRole("button", { name: /^Create link URL for / }).click();
  await page.getByRole("button", { name: "Copy the link URL" }).waitFor();
  const link = (await page.locator(".linkbox code").textContent())!;
  assert.match(link, new RegExp(`^${server.url}/link\\?connection_token=`));
  await audit(page, "connections-link");
  // The customer opens it: the demo retailer gateway is on (embedded database, no retailer URL), so the form is there and a demo login links.
  const customer = await context.newPage();
  const opened = await customer.goto(link);
  assert.equal(opened?.status(), 200, "the link page opens");
  await customer.locator("form input[name=username]").waitFor();
  await customer.fill("input[name=username]", "alice@example.com");
  await customer.fill("input[name=password]", "demo-password");
  await customer.click("button[type=submit]");
  await customer.getByRole("heading", { name: /account is connected/ }).waitFor().catch(async (err) => {
    throw new Error(`the link page did not say connected: ${await customer.locator("body").textContent()}`, { cause: err });
  });
  await customer.close();
  await page.getByRole("button", { name: "Find connections" }).click();
  await page.locator("article.card .badge", { hasText: "active" }).waitFor();
  step("the link page opens (200, a form); a demo login links the connection, now active");

  // Purchases: read with an access token minted for the call (never in the page); the first sync runs as a job.
  await page.getByRole("button", { name: /^Purchases of / }).click();
  for (let i = 0; i < 40 && (await dialog.locator("details.purchase").count()) === 0; i++) {
    await new Promise((r) => setTimeout(r, 500));
    await dialog.getByRole("button", { name: "Reload purchases" }).click();
    await dialog.getByRole("button", { name: "Reload purchases" }).waitFor();
  }
  assert.equal(await dialog.locator("details.purchase").count(), 10, "ten purchases a page");
  await dialog.locator("details.purchase summary").first().click();
  await dialog.locator("details.purchase table").first().waitFor();
  assert.ok((await dialog.locator("details.purchase tbody tr").count()) >= 1, "the purchase's items");
  await audit(page, "connections-purchases");
  const firstPageFirst = await dialog.locator("details.purchase summary").first().textContent();
  await dialog.getByRole("button", { name: "Next page" }).click();
  await dialog.getByText("Page 2").waitFor();
  await until(async () => (await dialog.locator("details.purchase summary").first().textContent()) !== firstPageFirst, "page 2 shows older purchases");
  assert.equal(await dialog.locator("details.purchase").count(), 10);
  await dialog.getByRole("button", { name: "Previous page" }).click();
  await dialog.getByText("Page 1").waitFor();
  await until(async () => (await dialog.locator("details.purchase summary").first().textContent()) === firstPageFirst, "page 1 again");
  await dialog.getByRole("button", { name: "Close" }).click();
  step("purchases: ten a page, newest first, a purchase's items, next and previous page");

  // Link tokens: create (the URL shown once), revoke.
  await page.getByRole("button", { name: "Create a link token for cus_42" }).click();
  await page.getByRole("button", { name: "Copy the link token URL" }).waitFor();
  const durable = (await page.locator(".linkbox code").last().textContent())!;
  assert.match(durable, new RegExp(`^${server.url}/link\\?link_token=`));
  const durablePage = await fetch(durable);
  assert.equal(durablePage.status, 200, "the link token's URL opens the link page");
  await page.getByRole("button", { name: "Done with the link token URL" }).click();
  assert.ok(!(await page.content()).includes(new URL(durable).searchParams.get("link_token")!), "the link token is gone from the page");
  await page.getByRole("button", { name: /^Revoke link token / }).click();
  await page.getByRole("cell", { name: "revoked" }).waitFor();
  step("link tokens: created with the URL shown once (it opens the link page), revoked");

  await page.getByRole("button", { name: /^Simulate lost login for / }).click();
  await page.locator("article.card .badge", { hasText: "unauthenticated" }).waitFor();
  await page.getByRole("button", { name: /^Disconnect / }).click();
  await page.locator(".badge", { hasText: "disconnected" }).waitFor();
  await page.getByRole("button", { name: /^Delete / }).click();
  await dialog.getByRole("button", { name: /^Delete / }).click();
  await page.getByText("Customer cus_42 has no connection yet").waitFor();
  step("customer connections: lost login simulated, disconnected, deleted");

  // Connection webhooks (Subtotal format): add (secret once), simulate, delete.
  await go(page, "Connection webhooks");
  await page.getByText("No webhook destination yet").waitFor();
  await audit(page, "connection-webhooks");
  await page.getByRole("button", { name: "Add webhook destination" }).click();
  await dialog.getByLabel("Name").fill("Orders app");
  await dialog.getByLabel("Destination URL").fill(receiverUrl.replace("/hooks", "/subtotal"));
  await dialog.getByRole("button", { name: "Add the destination" }).click();
  await dialog.getByRole("button", { name: "Copy the signing secret" }).waitFor();
  const destinationSecret = (await dialog.locator(".secret code").textContent())!;
  await dialog.getByRole("button", { name: "Done" }).click();
  assert.ok(!(await page.content()).includes(destinationSecret));
  await page.getByRole("button", { name: "Send simulated events" }).click();
  await page.getByRole("status").filter({ hasText: "simulated event" }).waitFor();
  for (let i = 0; i < 60 && subtotalReceived === 0; i++) await new Promise((r) => setTimeout(r, 250));
  assert.ok(subtotalReceived >= 1, "a simulated event was delivered");
  await page.getByRole("button", { name: "Delete destination Orders app" }).click();
  await dialog.getByRole("button", { name: "Delete destination Orders app" }).click();
  await page.getByText("No webhook destination yet").waitFor();
  step("connection webhooks: destination added (secret once), simulated events delivered, deleted");

  // Shop integrations: an eBay connector is one; the settings form shows the API's refusal at its field.
  await go(page, "Connectors");
  const ebay = page.locator('.card[data-type="ebay"]');
  await ebay.getByRole("button", { name: "Connect eBay" }).click();
  await dialog.getByRole("button", { name: "Connect eBay" }).click();
  assert.equal(await dialog.locator(".field-error").textContent(), "Seller ID is required.");
  await dialog.getByLabel("Seller ID").fill("seller-1");
  await dialog.getByRole("button", { name: "Connect eBay" }).click();
  await ebay.locator(".badge", { hasText: "needs credentials" }).waitFor();
  await go(page, "Shop integrations");
  await page.getByRole("button", { name: "Settings for eBay" }).waitFor();
  await page.getByLabel("Sort by").selectOption("-updated_at");
  await audit(page, "shop-integrations");
  await page.getByRole("button", { name: "Settings for eBay" }).click();
  await dialog.getByLabel("Webhook URL").fill("not a url");
  await dialog.getByRole("button", { name: /^Save settings for / }).click();
  await dialog.locator(".field-error").first().waitFor();
  assert.equal(await dialog.locator(".error").count(), 0, "the refusal is shown at its field only");
  await audit(page, "shop-integrations-settings");
  await dialog.getByLabel("Webhook URL").fill("https://shop.example.com/hooks");
  await dialog.getByRole("button", { name: /^Save settings for / }).click();
  await dialog.waitFor({ state: "detached" });
  step("shop integrations: sorted list, settings refused at the field, then saved");

  // Shop integration logs: shipping software reports 12 exceptions (POST …/logs, as a script would); the console pages them, ten at a time.
  const basic = `Basic ${Buffer.from(`${rolledPublic}:${rolled}`).toString("base64")}`;
  const shops = (await (await fetch(`${server.url}/api/v3/integrations`, { headers: { authorization: basic } })).json()).data as { id: number; type: string }[];
  const ebayShop = shops.find((x) => x.type === "ebay")!;
  for (let i = 0; i < 12; i++) {
    const at = new Date(Date.now() - (12 - i) * 60_000).toISOString();
    const res = await fetch(`${server.url}/api/v3/integrations/${ebayShop.id}/logs`, {
      method: "POST",
      headers: { authorization: basic, "content-type": "application/json" },
      body: JSON.stringify({ base_url: "https://shop.example.com", full_url: `https://shop.example.com/orders/${i}.json`, method: "GET", response_code: 404, response: { headers: { "content-type": "application/json" }, body: `{"error":"order ${i} not found"}` }, created_at: at, exception_type: "requests.exceptions.HTTPError", exception: `Order ${i} not found` }),
    });
    assert.equal(res.status, 201, await res.text());
  }
  await page.getByRole("button", { name: "Logs of eBay" }).click();
  await dialog.locator("details.shop-log").first().waitFor();
  assert.equal(await dialog.locator("details.shop-log").count(), 10, "ten logs a page");
  assert.match((await dialog.locator("details.shop-log summary").first().textContent()) ?? "", /orders\/11\.json/, "newest first");
  await dialog.locator("details.shop-log summary").first().click();
  assert.match((await dialog.locator("details.shop-log").first().textContent()) ?? "", /Order 11 not found/);
  assert.match((await dialog.locator("details.shop-log").first().locator("pre").last().textContent()) ?? "", /"error": "order 11 not found"/, "the shop's answer, indented");
  await audit(page, "shop-integrations-logs");
  await dialog.getByRole("button", { name: "Next page" }).click();
  await dialog.getByText("Page 2").waitFor();
  await until(async () => /orders\/1\.json/.test((await dialog.locator("details.shop-log summary").first().textContent()) ?? ""), "page 2 shows the older logs");
  assert.equal(await dialog.getByRole("button", { name: "Next page" }).isDisabled(), true, "the last page");
  await dialog.getByRole("button", { name: "Previous page" }).click();
  await until(async () => /orders\/11\.json/.test((await dialog.locator("details.shop-log summary").first().textContent()) ?? ""), "page 1 again");
  await dialog.getByRole("button", { name: "Close" }).click();
  await page.getByRole("button", { name: "Logs of every shop integration" }).click();
  await dialog.locator("details.shop-log", { hasText: "orders/11.json" }).waitFor();
  assert.match((await dialog.locator("details.shop-log summary").first().textContent()) ?? "", /eBay/, "each entry names its shop integration");
  await dialog.getByRole("button", { name: "Close" }).click();
  step("shop integration logs: twelve reported exceptions, ten a page, newest first, with the shop's answer; all integrations' logs at once");

  // Developers › API logs: this key's requests, by status, method and path; paged.
  const missing = await fetch(`${server.url}/v1/webhook_endpoints/00000000-0000-4000-8000-000000000000`, { headers: { authorization: `Bearer ${rolled}` } });
  assert.equal(missing.status, 404);
  await go(page, "Developers › API logs");
  await page.locator("tbody tr").first().waitFor();
  await audit(page, "api-logs");
  assert.match((await page.locator("tbody tr").first().textContent()) ?? "", /\(this key\)/, "the signed-in key's requests say so");
  await page.getByLabel("Status").fill("404");
  await page.getByLabel("Path starts with").fill("/v1/webhook_endpoints/00000000");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await until(async () => (await page.locator("tbody tr").count()) === 1 && /\/v1\/webhook_endpoints\/00000000-/.test((await page.locator("tbody tr").first().textContent()) ?? ""), "the one 404 to an endpoint that does not exist");
  const row404 = (await page.locator("tbody tr").first().textContent()) ?? "";
  assert.match(row404, /404GET\/v1\/webhook_endpoints\/00000000-0000-4000-8000-000000000000\d+ ms/, row404);
  assert.match(row404, new RegExp(missing.headers.get("x-request-id")!), "the request id the answer carried");
  await page.getByLabel("Status").fill("4xx");
  await page.getByLabel("Path starts with").fill("");
  await page.getByLabel("Method").selectOption("PATCH");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await until(async () => {
    const rows = await page.locator("tbody tr").allTextContents();
    return rows.length >= 1 && rows.every((text) => /^.*?4\d\dPATCH\//.test(text));
  }, "only 4xx PATCH requests (the refused shop settings)");
  await page.getByLabel("Status").fill("teapot");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.locator(".field-error").waitFor();
  assert.equal(await page.locator(".error").count(), 0, "a refused filter is explained at its field only");
  await page.getByLabel("Status").fill("");
  await page.getByLabel("Method").selectOption("");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await until(async () => (await page.locator("tbody tr").count()) === 10, "a full page of requests");
  const apiFirst = await page.locator("tbody tr").first().textContent();
  await page.getByRole("button", { name: "Next page" }).click();
  await page.getByText("Page 2").waitFor();
  await until(async () => (await page.locator("tbody tr").first().textContent()) !== apiFirst, "page 2 shows older requests");
  step("API logs: this key's requests with status, method, path, latency and request id; by status code and class, method and path; a bad filter at its field; paged");

  // The operator sees when each key was last used, and the entity's API logs with the keys' names.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.fill("#secret", ADMIN_TOKEN);
  await page.click("button[type=submit]");
  await go(page, "Developers › API keys");
  const rolledRow = page.getByRole("row").filter({ hasText: rolled.slice(0, 17) });
  await until(async () => (await rolledRow.count()) === 1, "the rolled key's row");
  const lastUsed = (await rolledRow.locator("td").nth(6).textContent()) ?? "";
  assert.ok(lastUsed !== "never" && lastUsed !== "—" && /\d{4}/.test(lastUsed), `the rolled key's last use is shown (${lastUsed})`);
  assert.equal(await page.getByRole("row").filter({ hasText: "legacy" }).locator("td").nth(6).textContent(), "never", "a key never used says so");
  await audit(page, "keys-used");
  await go(page, "Developers › API logs");
  await page.locator("tbody tr").first().waitFor();
  assert.match((await page.locator("tbody tr").first().textContent()) ?? "", /billing \(ark_live_ent_/, "the operator sees the key's name");
  step("operator: each key's last use (a key never used says never); the entity's API logs name the keys");

  // API collection: the OpenAPI document and a Postman collection.
  await go(page, "Developers › API collection");
  await audit(page, "collection");
  const [openapi] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download the OpenAPI document" }).click()]);
  const doc = JSON.parse(fs.readFileSync((await openapi.path())!, "utf8"));
  assert.ok(doc.paths["/v1/integrations"]);
  const [postman] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download the Postman collection" }).click()]);
  const collection = JSON.parse(fs.readFileSync((await postman.path())!, "utf8"));
  assert.match(collection.info.schema, /collection\/v2\.1\.0/);
  const requests = collection.item.flatMap((f: { item: unknown[] }) => f.item).length;
  const operations = Object.values(doc.paths as Record<string, object>).reduce((n, ops) => n + Object.keys(ops).filter((m) => ["get", "post", "put", "patch", "delete"].includes(m)).length, 0);
  assert.equal(requests, operations);
  // Each request carries the auth its API asks for, from collection variables (never a key's value).
  type Req = { method: string; url: { raw: string }; auth: { type: string; bearer?: { value: string }[] }; header: { key: string; value: string }[]; body?: { raw: string } };
  const all: Req[] = collection.item.flatMap((f: { item: { request: Req }[] }) => f.item.map((i) => i.request));
  const find = (method: string, raw: string) => all.find((r) => r.method === method && r.url.raw === `{{baseUrl}}${raw}`)!;
  assert.equal(find("POST", "/admin/v1/entities").auth.bearer![0]!.value, "{{adminToken}}");
  assert.equal(find("GET", "/v1/integrations").auth.bearer![0]!.value, "{{apiKey}}");
  assert.equal(find("GET", "/api/v3/integrations").auth.type, "basic");
  assert.ok(find("GET", "/connections").header.some((h) => h.key === "x-api-key" && h.value === "{{apiKey}}"));
  assert.deepEqual(JSON.parse(find("POST", "/admin/v1/entities").body!.raw), { name: "" }, "an example body of the required fields");
  assert.ok(!JSON.stringify(collection).includes(rolled), "no key in the collection");
  step(`API collection: OpenAPI document and a Postman collection of all ${operations} operations`);

  await noLeak(page, "the end");
  assert.deepEqual(pageErrors, []);
  step("no planted secret in the DOM, a response or the server log after any step; no script errors");
} catch (err) {
  failed = true;
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  if (current) {
    process.stderr.write(`page text at the failure:\n${await current.evaluate(() => (document.querySelector("dialog[open]") ?? document.body).textContent).catch(() => "")}\n`);
    await current.screenshot({ path: path.join(ROOT, "console-e2e-failure.png") }).catch(() => undefined);
  }
  const tail = server.stdout().split("\n").filter((l) => !l.includes('"request completed"')).slice(-15).join("\n");
  process.stderr.write(`server log (tail):\n${tail}\n`);
} finally {
  await browser.close();
  await server.stop();
  receiver.close();
  await fakeStripe.close();
  await fakeShopify.close();
}
process.stdout.write(`console e2e ${failed ? "FAILED" : "passed"} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
process.exit(failed ? 1 : 0);
