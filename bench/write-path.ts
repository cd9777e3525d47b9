/**
 * The write path's cost per request, without the load generator in the way:
 * one caller, requests one after the other, in this process (HTTP injection,
 * so no socket either), on PostgreSQL. Per variant: CPU µs per request of this
 * process and of the PostgreSQL backends, round trips and commits per request.
 * The variants run interleaved, round after round; each figure is the median of
 * its rounds. "insert" is the bare baseline's statement (one INSERT on its own
 * pg client) for scale.
 *
 *   node --import tsx bench/write-path.ts [requests-per-round=200] [rounds=3] [--statements]
 *
 * With --statements (and PATCHBAY_PG_PREPARE=false throughout, so that every
 * statement goes as its own text), the database side of one fresh-key PATCH: each of its
 * statements run again alone (in a transaction rolled back), 100 times on one
 * backend, with that backend's CPU per run and EXPLAIN ANALYZE's planning and
 * execution times.
 *
 * Needs PostgreSQL at 127.0.0.1:5432 (as the tests do); makes and drops its own database.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { backendCpuDelta, BackendCpu } from "./cpu.ts";
import { startTestApp } from "../test/helpers/app.ts";
import { PG_ADMIN_URL } from "../test/helpers/databases.ts";
import { asKey, createTenant } from "../test/helpers/fixtures.ts";
import { median } from "./report.ts";

const perRound = Number(process.argv[2] ?? 200);
const rounds = Number(process.argv[3] ?? 3);

// --statements re-runs each statement's text alone, so nothing is sent by a prepared name in that mode (PATCHBAY_PG_PREPARE=false).
const statementsMode = process.argv.includes("--statements");
const t = await startTestApp("postgres", {
  env: { LOG_LEVEL: "info", PATCHBAY_RATE_LIMIT_LIVE_PER_MINUTE: "1000000", PATCHBAY_RATE_LIMIT_LIVE_BURST: "1000000", ...(statementsMode ? { PATCHBAY_PG_PREPARE: "false" } : {}) },
});
const database = new URL(t.database.url!).pathname.slice(1);
const backends = new BackendCpu(PG_ADMIN_URL, database);
const raw = new pg.Client({ connectionString: t.database.url });
await raw.connect();
await raw.query("create table bench_inserts (id uuid primary key, request_key text, body jsonb, created_at timestamptz not null)");

let statements = 0;
let commits = 0;
let capture: Array<{ text: string; values: unknown[] | undefined }> | null = null;
const original = pg.Client.prototype.query;
(pg.Client.prototype as { query: unknown }).query = function (this: pg.Client, ...args: unknown[]) {
  const text = String(typeof args[0] === "string" ? args[0] : (args[0] as { text?: string })?.text);
  if (this !== (backends as unknown as { client: pg.Client }).client) {
    if (this !== raw) capture?.push({ text, values: (args[1] ?? (args[0] as { values?: unknown[] })?.values) as unknown[] | undefined });
    statements++;
    // The COMMIT may have the change announcements behind it in the same message (pg-driver.ts).
    if (/(^|;)\s*commit\s*(;|$)/i.test(text)) commits++;
  }
  return (original as (...a: unknown[]) => unknown).apply(this, args);
};

const tenant = await createTenant(t);
const v1 = asKey(t, tenant);
const must = (status: number, res: { statusCode: number; body: string }) => {
  if (res.statusCode !== status) throw new Error(`${res.statusCode} ${res.body}`);
};
must(201, await v1("POST", "/v1/integrations/stripe", { config: { currency: "usd" } }));
let n = 0;
const body = () => ({ display_name: `Stripe ${++n}`, config: { statement_descriptor: `ACME ${n}` } });
const replayed = { display_name: "Stripe replayed", config: { statement_descriptor: "ACME REPLAYED" } };
must(200, await v1("PATCH", "/v1/integrations/stripe", replayed, { "idempotency-key": "replay-1" }));

const variants: Record<string, { perRequest: number; run: () => Promise<void> }> = {
  insert: {
    perRequest: 1,
    run: async () => {
      await raw.query("insert into bench_inserts (id, request_key, body, created_at) values ($1, $2, $3, now())", [randomUUID(), randomUUID(), JSON.stringify(body())]);
    },
  },
  patch: { perRequest: 1, run: async () => must(200, await v1("PATCH", "/v1/integrations/stripe", body())) },
  "patch-fresh": { perRequest: 1, run: async () => must(200, await v1("PATCH", "/v1/integrations/stripe", body(), { "idempotency-key": randomUUID() })) },
  "patch-replay": { perRequest: 1, run: async () => must(200, await v1("PATCH", "/v1/integrations/stripe", replayed, { "idempotency-key": "replay-1" })) },
  "delete-post": {
    perRequest: 2,
    run: async () => {
      must(200, await v1("DELETE", "/v1/integrations/stripe"));
      must(200, await v1("POST", "/v1/integrations/stripe", { config: { currency: "usd" } }));
    },
  },
};

interface Figure {
  serverUs: number;
  dbUs: number;
  roundTrips: number;
  commits: number;
  msPerRequest: number;
}
const figures = new Map<string, Figure[]>();
for (let round = 0; round <= rounds; round++) {
  for (const [name, v] of Object.entries(variants)) {
    const before = await backends.snapshot();
    const cpu = process.cpuUsage();
    const s0 = statements;
    const c0 = commits;
    const started = performance.now();
    for (let i = 0; i < perRound; i++) await v.run();
    const elapsed = performance.now() - started;
    const used = process.cpuUsage(cpu);
    const after = await backends.snapshot();
    const requests = perRound * v.perRequest;
    // Round 0 warms up (JIT, plans, pool connections) and is not counted.
    if (round === 0) continue;
    const list = figures.get(name) ?? [];
    list.push({
      // The raw INSERT runs on this process too, but its client work is not a server's: counted all the same, for scale.
      serverUs: (used.user + used.system) / requests,
      dbUs: before && after ? (backendCpuDelta(before, after) * 1000) / requests : NaN,
      roundTrips: (statements - s0) / requests,
      commits: (commits - c0) / requests,
      msPerRequest: elapsed / requests,
    });
    figures.set(name, list);
  }
}

console.log(`| variant (${rounds} rounds × ${perRound}, median) | server CPU µs/req | db CPU µs/req | ms/req (one caller) | round trips/req | commits/req |`);
console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
for (const [name, list] of figures) {
  const m = (k: keyof Figure) => median(list.map((f) => f[k]));
  console.log(`| ${name} | ${m("serverUs").toFixed(0)} | ${m("dbUs").toFixed(0)} | ${m("msPerRequest").toFixed(2)} | ${m("roundTrips").toFixed(1)} | ${m("commits").toFixed(1)} |`);
}

if (statementsMode) {
  capture = [];
  await variants["patch-fresh"]!.run();
  const sent = capture;
  capture = null;
  const pid = (await raw.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!.pid;
  const { cpuMs } = await import("./cpu.ts");
  console.log("\n| statement of a fresh-key PATCH | db CPU µs (alone, 300 runs) | planning ms | execution ms |");
  console.log("| --- | ---: | ---: | ---: |");
  const timed = async (label: string, text: string, values?: unknown[]) => {
    const runs = 300;
    const before = cpuMs(pid)!;
    // The event and the audit row were committed by the request: each run inserts them under a new id.
    const fresh = () => text.replace(/(insert into "?audit_events"? \([^)]*\)\s*values\s*\('|emit_event\(')([0-9a-f-]{36})/, (_m, head: string) => head + randomUUID());
    for (let i = 0; i < runs; i++) {
      await raw.query("begin");
      await raw.query(fresh(), values);
      await raw.query("rollback");
    }
    const us = ((cpuMs(pid)! - before) * 1000) / runs;
    await raw.query("begin");
    const plan = (await raw.query(`explain (analyze, summary, timing off) ${fresh()}`, values)).rows.map((r) => r["QUERY PLAN"] as string);
    await raw.query("rollback");
    const pick = (re: RegExp) => plan.map((l) => re.exec(l)?.[1]).find((x) => x !== undefined) ?? "–";
    console.log(`| ${label} | ${us.toFixed(0)} | ${pick(/Planning Time: ([\d.]+)/)} | ${pick(/Execution Time: ([\d.]+)/)} |`);
  };
  await timed("(begin + select 1 + rollback, for scale)", "select 1");
  for (const { text, values } of sent) {
    for (const statement of text.split("\n;\n")) {
      if (/^\s*(begin|commit|rollback)\b/i.test(statement)) continue;
      const label = statement.replace(/\s+/g, " ").trim().slice(0, 60).replace(/\|/g, "/");
      await timed(label, statement, statement === text ? values : undefined);
    }
  }
}

pg.Client.prototype.query = original;
await raw.end();
await backends.close();
await t.close();
