import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { authorizeUrl, callbackHmac, normalizeShopDomain, verifyCallbackHmac } from "../src/providers/shopify.ts";
import { SHOPIFY_CLIENT_SECRET, shopifyLibrary, signedCallback } from "./helpers/fake-shopify.ts";

const library = shopifyLibrary();

/** Values with every character that encoding could get wrong. */
const AWKWARD = ["plain", "with space", "a&b=c", "100%", "plus+sign", "slash/and?query", "ünïcödé ✓", "tab\there", "", "=", "%2B", "quote\"s"];

function randomQuery(): Record<string, string> {
  const q: Record<string, string> = {
    code: randomBytes(16).toString("hex"),
    shop: "acme-store.myshopify.com",
    state: randomBytes(24).toString("base64url"),
    timestamp: String(Math.floor(Date.now() / 1000)),
  };
  const extras = ["host", "locale", "session", "embedded", "x_extra"];
  for (const name of extras) if (Math.random() < 0.6) q[name] = AWKWARD[Math.floor(Math.random() * AWKWARD.length)]!;
  return q;
}

describe("callback HMAC verification agrees with Shopify's library", () => {
  it("every signature Shopify's validateHmac accepts, ours accepts; every one it rejects, ours rejects (200 random queries)", async () => {
    for (let i = 0; i < 200; i++) {
      const query = randomQuery();
      const signed = { ...query, hmac: callbackHmac(new URLSearchParams(query), SHOPIFY_CLIENT_SECRET) };
      assert.equal(await library.utils.validateHmac(signed), true, `Shopify's library rejects our signature of ${JSON.stringify(query)}`);
      assert.equal(verifyCallbackHmac(new URLSearchParams(signed), SHOPIFY_CLIENT_SECRET), true);

      const names = Object.keys(query).filter((n) => n !== "timestamp");
      const victim = names[i % names.length]!;
      const tampered = { ...signed, [victim]: `${signed[victim as keyof typeof signed]}x` };
      assert.equal(await library.utils.validateHmac(tampered), false);
      assert.equal(verifyCallbackHmac(new URLSearchParams(tampered), SHOPIFY_CLIENT_SECRET), false, `tampered ${victim} accepted`);
    }
  });

  it("the tests' callback signer is certified by Shopify's library and accepted by ours", async () => {
    const query = new URLSearchParams(await signedCallback({ code: "abc", shop: "acme.myshopify.com", state: "s t&a=te", host: "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYWNtZQ==" }));
    assert.equal(verifyCallbackHmac(query, SHOPIFY_CLIENT_SECRET), true);
    assert.equal(verifyCallbackHmac(query, "another secret"), false);
  });

  it("refuses a missing, repeated, short, long or non-hex hmac without comparing", () => {
    const base = new URLSearchParams({ code: "a", shop: "acme.myshopify.com", state: "b", timestamp: "1" });
    const good = callbackHmac(base, SHOPIFY_CLIENT_SECRET);
    const variants: (string | string[] | null)[] = [null, [good, good], good.slice(0, 63), `${good}0`, `${good.slice(0, 63)}g`, ""];
    for (const v of variants) {
      const q = new URLSearchParams(base);
      if (Array.isArray(v)) for (const x of v) q.append("hmac", x);
      else if (v !== null) q.set("hmac", v);
      assert.equal(verifyCallbackHmac(q, SHOPIFY_CLIENT_SECRET), false, JSON.stringify(v));
    }
    const upper = new URLSearchParams(base);
    upper.set("hmac", good.toUpperCase());
    assert.equal(verifyCallbackHmac(upper, SHOPIFY_CLIENT_SECRET), true, "hex case does not matter");
  });
});

describe("shop domains and the authorize URL", () => {
  it("normalizes to lower case and refuses anything that is not name.myshopify.com", () => {
    assert.equal(normalizeShopDomain("Acme-Store.MyShopify.com"), "acme-store.myshopify.com");
    for (const bad of ["acme.myshopify.com.", "acme.myshopify.co", "xn--acme.myshopify.com.evil", "acme.myshopify.com%00", "acme/..myshopify.com"]) {
      assert.equal(normalizeShopDomain(bad), null, bad);
      assert.equal(library.utils.sanitizeShop(bad), null, `Shopify's library also refuses ${bad}`);
    }
  });

  it("builds https://{shop}/admin/oauth/authorize with every parameter encoded", () => {
    const url = new URL(authorizeUrl({ shop: "acme.myshopify.com", clientId: "cid", scopes: "read_orders,write_orders", redirectUri: "https://pb.example/v1/integrations/shopify/oauth/callback", state: "st&ate" }));
    assert.equal(url.origin, "https://acme.myshopify.com");
    assert.equal(url.pathname, "/admin/oauth/authorize");
    assert.deepEqual(Object.fromEntries(url.searchParams), { client_id: "cid", scope: "read_orders,write_orders", redirect_uri: "https://pb.example/v1/integrations/shopify/oauth/callback", state: "st&ate" });
  });
});
