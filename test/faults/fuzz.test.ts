import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import type { InjectOptions } from "fastify";
import { CONNECTOR_TYPES as CATALOG_TYPES } from "../../src/catalog/index.ts";
import { ADMIN_TOKEN, startTestApp, type TestApp } from "../helpers/app.ts";
import { asConnectionsKey, createConnection, mintToken } from "../helpers/connections.ts";
import { DB_KINDS } from "../helpers/databases.ts";
import { startFakeProvider, type FakeProvider } from "../helpers/fake-provider.ts";
import { addKey, asKey, createTenant, SHIP_FROM, type Tenant } from "../helpers/fixtures.ts";
import { insertShopify, shopIntegrationId } from "../helpers/shop-integrations.ts";
import { rawRequestArbitrary, sendRaw, type RawRequest } from "./raw-http.ts";
import { describeRequest, operationsOf, requestArbitrary, type Fixtures, type FuzzRequest, type Operation } from "./requests.ts";
import { codeOf, shapeProblem, surfaceOf, type SeenResponse } from "./shapes.ts";

/**
 * Fault suite (a): requests generated from /openapi.json with fast-check,
 * against every operation of every surface, on both databases. Required:
 * no 5xx, no answer slower than 5 s, every error in its surface's shape.
 *
 * FUZZ_SEED reproduces a run; FUZZ_RUNS and FUZZ_RAW_RUNS set its size.
 */

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const RAW_RUNS = Number(process.env.FUZZ_RAW_RUNS ?? 400);
const HANG_MS = 5_000;
/** Requests in flight at once: a few, as real clients send them (and the run fits its time). */
const BATCH = 4;

type Verdict = { kind: "ok" } | { kind: "5xx" | "off-shape" | "hang"; key: string };

class Tally {
  requests = 0;
  fiveXx = 0;
  offShape = 0;
  hangs = 0;
  readonly byStatus = new Map<string, number>();
  readonly findings = new Map<string, { count: number; example: string; ops: Set<string> }>();

  record(surface: string, verdict: Verdict, status: number | string, op: string, example: () => string) {
    this.requests++;
    const statusKey = `${surface} ${status}`;
    this.byStatus.set(statusKey, (this.byStatus.get(statusKey) ?? 0) + 1);
    if (verdict.kind === "ok") return;
    if (verdict.kind === "5xx") this.fiveXx++;
    if (verdict.kind === "off-shape") this.offShape++;
    if (verdict.kind === "hang") this.hangs++;
    const seen = this.findings.get(verdict.key);
    if (seen) {
      seen.count++;
      seen.ops.add(op);
    } else this.findings.set(verdict.key, { count: 1, example: example(), ops: new Set([op]) });
  }

  get failures() {
    return this.fiveXx + this.offShape + this.hangs;
  }
}

function judge(surface: ReturnType<typeof surfaceOf>, res: SeenResponse, acceptsHtml: boolean): Verdict {
  if (res.status >= 500) return { kind: "5xx", key: `5xx       ${surface} ${res.status} ${codeOf(res)}` };
  if (res.status < 400 || surface === "other") return { kind: "ok" };
  const problem = shapeProblem(surface, res, acceptsHtml);
  return problem ? { kind: "off-shape", key: `off-shape ${surface} ${res.status} ${codeOf(res)}: ${problem}` } : { kind: "ok" };
}

async function injectWithin(t: TestApp, req: FuzzRequest): Promise<SeenResponse | "hang"> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<"hang">((resolve) => (timer = setTimeout(() => resolve("hang"), HANG_MS)));
  const sent = t.app
    .inject({ method: req.method as InjectOptions["method"], url: req.url, headers: req.headers, payload: req.payload })
    .then((r) => ({ status: r.statusCode, headers: r.headers as SeenResponse["headers"], body: r.body }));
  try {
    return await Promise.race([sent, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** The path the router sees: injection resolves dot segments ("/connections/.." is "/"), as any HTTP client would. */
function routedPath(url: string): string {
  try {
    return new URL(url, "http://fuzz.invalid").pathname;
  } catch {
    return url;
  }
}

function verdictOf(req: FuzzRequest, res: SeenResponse | "hang"): Verdict {
  const surface = surfaceOf(routedPath(req.url));
  if (res === "hang") return { kind: "hang", key: `hang      ${surface}` };
  // The OAuth callback answers a browser with a page (Accept: text/html).
  const acceptsHtml = req.op === "GET /v1/integrations/shopify/oauth/callback";
  // Through the proxy, an answer without Patchbay-Proxy-Error is the (fake) provider's own, in its own shape.
  if (req.op.includes("/proxy/") && res.headers["patchbay-proxy-error"] !== "true") return { kind: "ok" };
  return judge(surface, res, acceptsHtml);
}

/** Entities, keys, connectors with credentials, connections with tokens, a webhook endpoint: so that requests reach the handlers. */
async function makeFixtures(t: TestApp, providerUrl: string): Promise<Fixtures> {
  const live = await createTenant(t, { name: "Fuzz live" });
  const test = await addKey(t, live.entityId, { mode: "test" });
  const v1 = asKey(t, live);
  for (const type of CATALOG_TYPES) {
    if (type === "shopify") continue;
    await v1("POST", `/v1/integrations/${type}`, { ...SHIP_FROM, seller_id: `SELLER${type.toUpperCase()}`, bank_account_id: "7d3c2a52-3b0c-4f37-9d1a-1a8f3c2b9e11" });
  }
  await asKey(t, test)("POST", "/v1/integrations/stripe", { mode: "sandbox" });
  const catalog = (await v1("GET", "/v1/integrations/catalog")).json().data as Array<{ connector_type: string; required_credential_keys: string[]; credential_keys: string[] }>;
  for (const d of catalog) {
    const keys = d.required_credential_keys.length > 0 ? d.required_credential_keys : d.credential_keys.slice(0, 1);
    await v1("PUT", `/v1/integrations/${d.connector_type}/credentials`, Object.fromEntries(keys.map((k) => [k, `fuzz-${k}-secret`])));
  }
  const shopIds = [await insertShopify(t, live)];
  for (const type of ["amazon", "ebay"]) {
    const row = (await v1("GET", `/v1/integrations/${type}`)).json().data;
    if (row) shopIds.push(await shopIntegrationId(t, row.id));
  }
  const hook = await v1("POST", "/v1/webhook_endpoints", { url: `${providerUrl}/hook`, events: ["*"] });
  assert.equal(hook.statusCode, 201, hook.body);

  const connectionIds: string[] = [];
  const accessTokens: Record<string, string> = {};
  for (let i = 0; i < 3; i++) {
    const c = await createConnection(t, live, { customer_id: `fuzz-${i}` });
    connectionIds.push(c.connection_id);
    accessTokens[c.connection_id] = await mintToken(t, live, c.connection_id, "access");
  }
  const linkTokens = [await mintToken(t, live, connectionIds[0]!, "link")];

  // Keys the fuzz may revoke (DELETE /admin/v1/api-keys/{id}), on an entity of their own.
  const spare = await createTenant(t, { name: "Fuzz spare" });
  const spareKeys = [spare.keyId, (await addKey(t, spare.entityId)).keyId, (await addKey(t, spare.entityId)).keyId];

  return {
    adminToken: ADMIN_TOKEN,
    entityId: live.entityId,
    keys: [live, live, live, test].map((k: Tenant) => ({ key: k.key, publicKey: k.publicKey })),
    pathValues: {
      connector_type: [...CATALOG_TYPES],
      connection_id: connectionIds,
      "/api/v3/integrations/{id}:id": shopIds.map(String),
      "/v1/webhook_endpoints/{id}:id": [hook.json().id],
      "/v1/webhook_endpoints/{id}/deliveries/{delivery_id}/retry:id": [hook.json().id],
      entity_id: [live.entityId, spare.entityId],
      "/admin/v1/api-keys/{id}:id": spareKeys,
    },
    accessTokens,
    linkTokens,
  };
}

/** One row per database and kind of request, printed as a Markdown table at the end (for RELIABILITY.md). */
const figures: string[] = [];

after(() => {
  if (figures.length === 0) return;
  process.stdout.write(
    [`\nfault suite (a), seed ${SEED}:`, "| database | requests | count | 5xx | off-shape | hangs > 5 s |", "| --- | --- | --- | --- | --- | --- |", ...figures].join("\n") + "\n",
  );
});

function printSummary(kind: string, label: string, tally: Tally) {
  figures.push(`| ${kind} | ${label.split(",")[0]} | ${tally.requests} | ${tally.fiveXx} | ${tally.offShape} | ${tally.hangs} |`);
  const lines = [`[${kind}] ${label}: ${tally.requests} requests, ${tally.fiveXx} 5xx, ${tally.offShape} off-shape, ${tally.hangs} hangs (seed ${SEED})`];
  lines.push("  responses by surface and status:");
  for (const [k, n] of [...tally.byStatus.entries()].sort()) lines.push(`    ${k.padEnd(22)} ${n}`);
  if (tally.findings.size > 0) {
    lines.push("  findings (category surface status code: problem ×count; operations; first request):");
    for (const [k, f] of [...tally.findings.entries()].sort()) {
      const ops = [...f.ops];
      lines.push(`    ${k}  ×${f.count}`, `        in ${ops.slice(0, 4).join(" | ")}${ops.length > 4 ? ` and ${ops.length - 4} more` : ""}`, `        e.g. ${f.example}`);
    }
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

for (const kind of DB_KINDS.filter((k) => !process.env.FUZZ_ONLY || k === process.env.FUZZ_ONLY)) {
  describe(`[${kind}] fault suite (a): fuzzing every operation from /openapi.json`, () => {
    let t: TestApp;
    let provider: FakeProvider;
    let ops: Operation[];
    let fixtures: Fixtures;
    let port: number;

    before(async () => {
      // The token endpoints of the types whose proxy mints a token answer one, so a proxied call reaches the fake API:
      // a 502 from the proxy then means Patchbay failed, not the fake.
      const token = () => ({ status: 200, body: { access_token: "fuzz-minted-token", token_type: "Bearer", expires_in: 3600 } });
      provider = await startFakeProvider(
        Object.fromEntries(["/security/v1/oauth/token", "/oauth/token", "/oauth2/v3/token", "/auth/o2/token", "/identity/v1/oauth2/token"].map((p) => [`POST ${p}`, token])),
      );
      // Every provider host Patchbay may call, the token hosts included (amazon_lwa): nothing may leave the machine.
      const providerEnv = Object.fromEntries([...CATALOG_TYPES, "retailers", "amazon_lwa"].map((type) => [`PATCHBAY_PROVIDER_URL_${type.toUpperCase()}`, provider.url]));
      t = await startTestApp(kind, {
        env: {
          ...providerEnv,
          SHOPIFY_CLIENT_ID: "fuzz-client-id",
          SHOPIFY_CLIENT_SECRET: "fuzz-client-secret-0123456789",
          PATCHBAY_WEBHOOK_ALLOW_PRIVATE: "true",
          PATCHBAY_RATE_LIMIT_LIVE_PER_MINUTE: "1000000",
          PATCHBAY_RATE_LIMIT_LIVE_BURST: "1000000",
          PATCHBAY_RATE_LIMIT_TEST_PER_MINUTE: "1000000",
          PATCHBAY_RATE_LIMIT_TEST_BURST: "1000000",
        },
      });
      const doc = (await t.request({ method: "GET", url: "/openapi.json" })).json();
      ops = operationsOf(doc);
      fixtures = await makeFixtures(t, provider.url);
      await t.app.listen({ port: 0, host: "127.0.0.1" });
      port = (t.app.server.address() as AddressInfo).port;
      process.stdout.write(`[${kind}] fuzz seed ${SEED} (FUZZ_SEED=${SEED} to reproduce): ${ops.length} operations, ${RUNS} injected + ${RAW_RUNS} raw requests\n`);
    });
    after(async () => {
      await t?.close();
      await provider?.close();
    });

    it("covers every surface", () => {
      const surfaces = new Set(ops.map((o) => o.surface));
      for (const s of ["v1", "admin", "connections", "shop", "link"] as const) assert.ok(surfaces.has(s), `no ${s} operation in /openapi.json`);
    });

    it(`${RUNS} injected requests: no 5xx, no hang over ${HANG_MS / 1000} s, every error in its surface's shape`, { timeout: 600_000 }, async () => {
      const arbitrary = requestArbitrary(ops, fixtures);
      const tally = new Tally();
      const started = Date.now();
      await fc.assert(
        fc.asyncProperty(fc.array(arbitrary, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
          await Promise.all(
            batch.map(async (req) => {
              const res = await injectWithin(t, req);
              tally.record(surfaceOf(routedPath(req.url)), verdictOf(req, res), res === "hang" ? "hang" : res.status, req.op, () => describeRequest(req));
            }),
          );
          return true;
        }),
        { seed: SEED, numRuns: Math.ceil(RUNS / BATCH) },
      );
      printSummary(kind, `injected, ${((Date.now() - started) / 1000).toFixed(1)} s`, tally);
      if (tally.failures > 0) {
        // Shrink to the smallest request that still fails, within a time bound.
        const shrunk = await fc.check(
          fc.asyncProperty(arbitrary, async (req) => verdictOf(req, await injectWithin(t, req)).kind === "ok"),
          { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: 30_000, markInterruptAsFailure: false },
        );
        if (shrunk.failed && shrunk.counterexample) {
          const [req] = shrunk.counterexample;
          process.stdout.write(`[${kind}] minimal failing request (after ${shrunk.numShrinks} shrinks): ${describeRequest(req)}\n  → ${verdictOf(req, await injectWithin(t, req)).kind}\n`);
        }
      }
      // A 5xx was logged by the server with its error: show the first few.
      if (tally.fiveXx > 0) process.stdout.write(`[${kind}] server errors:\n${t.logs.filter((l) => l.includes('"level":50')).slice(0, 3).map((l) => `  ${l.slice(0, 2000)}`).join("\n")}\n`);
      assert.equal(tally.failures, 0, `${tally.fiveXx} 5xx, ${tally.offShape} off-shape, ${tally.hangs} hangs; seed ${SEED} — see the summary above`);
      assert.ok(tally.requests >= RUNS);
    });

    it(`${RAW_RUNS} raw-socket requests: parser-level errors in the surface's shape too`, { timeout: 300_000 }, async () => {
      const tally = new Tally();
      const arbitrary = rawRequestArbitrary(ops, { bearer: fixtures.keys[0]!.key });
      const samples: RawRequest[] = fc.sample(arbitrary, { seed: SEED, numRuns: RAW_RUNS });
      for (const raw of samples) {
        const outcome = await sendRaw(port, raw.bytes, HANG_MS);
        const surface = surfaceOf(raw.path);
        const label = `raw ${raw.label}`;
        const example = () => `${label}: ${JSON.stringify(raw.bytes.toString("utf8").slice(0, 300))}`;
        if (outcome.kind === "hang") tally.record(surface, { kind: "hang", key: `hang      ${surface}` }, "hang", label, example);
        else if (outcome.kind === "closed") tally.record(surface, { kind: "off-shape", key: `off-shape ${surface}: closed without a response` }, "closed", label, example);
        else tally.record(surface, judge(surface, outcome.response, false), outcome.response.status, label, example);
      }
      printSummary(kind, "raw socket", tally);
      assert.equal(tally.failures, 0, `${tally.fiveXx} 5xx, ${tally.offShape} off-shape, ${tally.hangs} hangs; seed ${SEED} — see the summary above`);
    });
  });
}
