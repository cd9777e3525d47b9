import { startTestApp } from "./helpers/app.ts";
import { createTenant } from "./helpers/fixtures.ts";
import { asBasic, shopIntegrationId } from "./helpers/shop-integrations.ts";
import { asKey } from "./helpers/fixtures.ts";
const t = await startTestApp("postgres", { env: { PATCHBAY_RATE_LIMIT_LIVE_PER_MINUTE: "1000000", PATCHBAY_RATE_LIMIT_LIVE_BURST: "1000000" } });
const tenant = await createTenant(t);
let n = 0;
for (let round = 0; round < 60; round++) {
  const type = round % 2 ? "amazon" : "ebay";
  const res = await asKey(t, tenant)("POST", `/v1/integrations/${type}`, { seller_id: "S1" }); if (!res.json().id) { console.log(res.statusCode, res.body.slice(0,300)); continue; }
  const id = await shopIntegrationId(t, res.json().id);
  const call = asBasic(t, tenant);
  const rs = await Promise.all([
    call("DELETE", `/api/v3/integrations/${id}`, undefined, { "idempotency-key": `a${round}` }),
    call("PATCH", `/api/v3/integrations/${id}`, { shop_name: "x" + round }, { "idempotency-key": `b${round}` }),
    call("DELETE", `/api/v3/integrations/${id}`, undefined, { "idempotency-key": `c${round}` }),
    call("PATCH", `/api/v3/integrations/${id}`, { shop_name: "y" + round }),
  ]);
  for (const r of rs) if (r.statusCode >= 500) { n++; console.log(r.statusCode, r.body.slice(0, 200)); }
}
console.log("5xx:", n);
console.log(t.logs.filter((l) => l.includes('"level":50')).map((l) => l.slice(0, 600)).slice(0, 2).join("\n"));
await t.close();
