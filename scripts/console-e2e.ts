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
 * critical violations). Screenshots of each page at 1280×800 and 390×844 go
 * to docs/console/. Exits non-zero on the first failed check.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { chromium, type Page } from "playwright-core";
import { ensureConsoleBuilt } from "./build-console.mjs";
import { ADMIN_TOKEN } from "../test/helpers/app.ts";
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
const SHOTS = path.join(ROOT, "docs", "console");
fs.mkdirSync(SHOTS, { recursive: true });

// A local webhook receiver: the first delivery fails (500), later ones succeed.
let received = 0;
const receiver = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    received += 1;
    res.writeHead(received === 1 ? 500 : 200).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks`;

const server = await startTestServerProcess({ PATCHBAY_JOBS: "true", PATCHBAY_WEBHOOK_ALLOW_PRIVATE: "true" });
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
  for (const secret of [PLANTED, PLANTED_WEBHOOK]) {
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
  page.on("response", async (res) => {
    try {
      responses.push(await res.text());
    } catch {
      // A body that is gone (a redirect, an aborted request) has nothing to search.
    }
  });

  // Every console path is the app (client-side routing), not a 404.
  for (const p of ["/console", "/console/keys", "/console/webhooks", "/console/connections", "/console/audit", "/console/shop-integrations", "/console/connectors", "/console/collection", "/console/entities"]) {
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
  await page.getByRole("cell", { name: "Acme Retail" }).waitFor();
  step("operator: entity created");

  // API keys: create (secret once, copy), create another, search/filter, roll, revoke.
  await go(page, "Developers › API keys");
  await page.getByText("no API key yet").waitFor();
  await audit(page, "keys");
  const createKey = async (name: string, mode: "test" | "live") => {
    await page.getByRole("button", { name: "Create API key" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.locator("input[name=name]").fill(name);
    await dialog.locator("select[name=mode]").selectOption(mode);
    await dialog.getByRole("button", { name: "Create the key" }).click();
    await dialog.getByRole("button", { name: "Copy the secret" }).waitFor();
    const secret = (await dialog.locator(".secret code").textContent())!;
    assert.match(secret, new RegExp(`^ark_${mode}_ent_`));
    return { dialog, secret };
  };
  const first = await createKey("billing", "live");
  await audit(page, "keys-created");
  await first.dialog.getByRole("button", { name: "Copy the secret" }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), first.secret);
  await first.dialog.getByRole("button", { name: "Done" }).click();
  assert.ok(!(await page.content()).includes(first.secret), "the secret stays in the page after the dialog closes");
  const second = await createKey("legacy", "test");
  await second.dialog.getByRole("button", { name: "Done" }).click();
  await page.getByRole("button", { name: "Revoke key legacy" }).waitFor();
  await page.locator("select").nth(1).selectOption("live");
  assert.equal(await page.getByRole("button", { name: "Revoke key legacy" }).count(), 0);
  await page.locator("select").nth(1).selectOption("all");
  await page.fill("input[type=search]", "legacy");
  assert.equal(await page.getByRole("button", { name: "Roll key billing" }).count(), 0);
  await page.fill("input[type=search]", "");
  step("API keys: created with the secret shown once and copied; mode filter and search");

  // A test key signs in with the test-mode banner; then the operator is back.
  await page.getByRole("button", { name: "Create API key" }).waitFor();
  const third = await createKey("sandbox", "test");
  await third.dialog.getByRole("button", { name: "Sign in with this key" }).click();
  await page.getByRole("note").filter({ hasText: "Test mode" }).waitFor();
  await page.locator('.card[data-type="stripe"]').waitFor();
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.fill("#secret", ADMIN_TOKEN);
  await page.click("button[type=submit]");
  await go(page, "Developers › API keys");
  step("a test key signs in with the test-mode banner; sign out and back in as the operator");

  await page.getByRole("button", { name: "Revoke key legacy" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Revoke key legacy" }).click();
  await page.getByText("revoked", { exact: true }).waitFor();
  await page.getByRole("button", { name: "Roll key billing" }).click();
  await page.getByRole("dialog").locator("select").selectOption("3600");
  await page.getByRole("dialog").getByRole("button", { name: "Roll key billing" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Sign in with this key" }).waitFor();
  const rolled = (await page.getByRole("dialog").locator(".secret code").textContent())!;
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
  await stripe.getByRole("status").waitFor();
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
  step("verify shows its result; pause/resume; disconnect shows the restore deadline; restore brings the credentials back");

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
  // An event to deliver: Stripe's settings change.
  const changed = await fetch(`${server.url}/v1/integrations/stripe`, { method: "PATCH", headers: { authorization: `Bearer ${rolled}`, "content-type": "application/json" }, body: JSON.stringify({ display_name: "Stripe Europe" }) });
  assert.equal(changed.status, 200, await changed.text());
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

  // Audit log: filters and the before/after.
  await go(page, "Audit log");
  await page.locator("details.audit").first().waitFor();
  await page.getByLabel("Target type").selectOption("connector");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.locator("details.audit summary", { hasText: "connector.updated" }).first().click();
  await page.getByRole("cell", { name: "display_name" }).first().waitFor();
  assert.ok(await page.locator("details.audit").count() > 0);
  for (const summary of await page.locator("details.audit summary").allTextContents()) assert.match(summary, /connector/);
  await audit(page, "audit");
  step("audit log: filtered by target type, with the before/after of a change");

  // Customer connections: create, link URL, disconnect.
  await go(page, "Customer connections");
  await audit(page, "connections");
  await page.getByRole("button", { name: "Create connection" }).click();
  await dialog.getByLabel("Customer ID").fill("cus_42");
  await dialog.getByRole("button", { name: "Create the connection" }).click();
  await page.locator("article.card").first().waitFor();
  await page.getByRole("button", { name: /^Create link URL for / }).click();
  await page.getByRole("button", { name: "Copy the link URL" }).waitFor();
  const link = (await page.locator(".linkbox code").textContent())!;
  assert.match(link, new RegExp(`^${server.url}/link\\?connection_token=`));
  await audit(page, "connections-link");
  await page.getByRole("button", { name: /^Disconnect / }).click();
  await page.locator(".badge", { hasText: "disconnected" }).waitFor();
  step("customer connections: created, link URL minted, disconnected");

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
  await page.getByRole("button", { name: /^Settings for / }).waitFor();
  await page.getByLabel("Sort by").selectOption("-updated_at");
  await audit(page, "shop-integrations");
  await page.getByRole("button", { name: /^Settings for / }).click();
  await dialog.getByLabel("Webhook URL").fill("not a url");
  await dialog.getByRole("button", { name: /^Save settings for / }).click();
  await dialog.locator(".field-error").first().waitFor();
  assert.equal(await dialog.locator(".error").count(), 0, "the refusal is shown at its field only");
  await audit(page, "shop-integrations-settings");
  await dialog.getByLabel("Webhook URL").fill("https://shop.example.com/hooks");
  await dialog.getByRole("button", { name: /^Save settings for / }).click();
  await dialog.waitFor({ state: "detached" });
  step("shop integrations: sorted list, settings refused at the field, then saved");

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
}
process.stdout.write(`console e2e ${failed ? "FAILED" : "passed"} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
process.exit(failed ? 1 : 0);
