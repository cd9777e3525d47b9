import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createServices } from "../src/compose.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { startFakeProvider, type FakeProvider } from "./helpers/fake-provider.ts";
import { asKey, createTenant } from "./helpers/fixtures.ts";

// The proxy keeps opened credentials in memory, keyed by the sealed bytes the
// connector's query returns with it (src/services/credentials.ts): a change
// made anywhere — this process or another one on the same database — is used
// by the very next proxied call, and a destroyed secret is never used again.

for (const kind of DB_KINDS) {
  describe(`[${kind}] the proxy's opened-credentials cache`, () => {
    let t: TestApp;
    let stripe: FakeProvider;
    before(async () => {
      stripe = await startFakeProvider({ "*": () => ({ status: 200, body: { object: "balance" } }) });
      t = await startTestApp(kind, { env: { PATCHBAY_PROVIDER_URL_STRIPE: stripe.url } });
    });
    after(async () => {
      await t.close();
      await stripe.close();
    });

    const sentAuthorization = () => stripe.requests.at(-1)?.headers.authorization;

    it("a credential stored by another process is used by the next call; a deleted one is never sent again", async () => {
      const tenant = await createTenant(t, { scopes: ["integrations:read", "integrations:write", "integrations:proxy"] });
      const v1 = asKey(t, tenant);
      assert.equal((await v1("POST", "/v1/integrations/stripe", { mode: "live" })).statusCode, 201);
      assert.equal((await v1("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_live_first" })).statusCode, 200);
      for (let i = 0; i < 2; i++) {
        assert.equal((await v1("GET", "/v1/integrations/stripe/proxy/v1/balance")).statusCode, 200);
        assert.equal(sentAuthorization(), "Bearer sk_live_first");
      }

      // Another process: its own services (its own cache) on the same database.
      const other = createServices({ db: t.database.db, clock: t.clock, config: t.config });
      const actor = (await t.services.admission.admit("127.0.0.1", tenant.key)).actor;
      await other.credentials.putCredentials(actor, "stripe", { secret_key: "sk_live_second" });
      assert.equal((await v1("GET", "/v1/integrations/stripe/proxy/v1/balance")).statusCode, 200);
      assert.equal(sentAuthorization(), "Bearer sk_live_second");

      // The same value stored again is a new seal: still opened from the new bytes, still the same value sent.
      await other.credentials.putCredentials(actor, "stripe", { secret_key: "sk_live_second" });
      assert.equal((await v1("GET", "/v1/integrations/stripe/proxy/v1/balance")).statusCode, 200);
      assert.equal(sentAuthorization(), "Bearer sk_live_second");

      const sent = stripe.requests.length;
      await other.credentials.deleteCredentials(actor, "stripe");
      const refused = await v1("GET", "/v1/integrations/stripe/proxy/v1/balance");
      assert.equal(refused.statusCode, 409, refused.body);
      assert.equal(refused.json().code, "proxy_no_credentials");
      assert.equal(stripe.requests.length, sent, "a deleted credential reached the provider");
      await other.callLog.close();
    });
  });
}
