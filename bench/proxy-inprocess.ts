/**
 * The proxy's CPU cost per request where machine load blurs it least: one
 * app on PostgreSQL in this process, GET /v1/integrations/stripe/proxy/v1/balance
 * injected (no inbound socket) `requests` times per round, `concurrency` at a
 * time, to the loopback fake provider of bench/proxy-servers.ts in its own
 * process (its CPU is not counted). Per round: this process's CPU time (user +
 * system) and the PostgreSQL backends' per request, provider-call log and
 * request log flushed inside the round; medians of the rounds. Run it from two
 * checkouts in turn to compare them.
 *
 *   node --import tsx bench/proxy-inprocess.ts [requests=2000] [rounds=7] [concurrency=10]
 */
import { BackendCpu, backendCpuDelta } from "./cpu.ts";
import { killAllStarted, startServer } from "./processes.ts";
import { startTestApp } from "../test/helpers/app.ts";
import { asKey, createTenant } from "../test/helpers/fixtures.ts";
import { PG_ADMIN_URL } from "../test/helpers/databases.ts";
import { median } from "./report.ts";

const n = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 7);
const concurrency = Number(process.argv[4] ?? 10);
try {
  const fake = await startServer({ name: "fake provider", entry: "bench/proxy-servers.ts", env: { BENCH_ROLE: "fake" } });
  const app = await startTestApp("postgres", {
    env: { PATCHBAY_PROVIDER_URL_STRIPE: fake.url, PATCHBAY_RATE_LIMIT_LIVE_PER_MINUTE: "1000000", PATCHBAY_RATE_LIMIT_LIVE_BURST: "1000000", LOG_LEVEL: "info" },
  });
  const tenant = await createTenant(app, { scopes: ["integrations:read", "integrations:write", "integrations:proxy"] });
  const v1 = asKey(app, tenant);
  await v1("POST", "/v1/integrations/stripe", { mode: "live" });
  await v1("PUT", "/v1/integrations/stripe/credentials", { secret_key: "sk_live_bench" });
  const backends = new BackendCpu(PG_ADMIN_URL, new URL(app.database.url!).pathname.slice(1));
  const own: number[] = [];
  const db: number[] = [];
  for (let r = 0; r < rounds + 1; r++) {
    const dbBefore = (await backends.snapshot())!;
    const before = process.cpuUsage();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next++ < n) {
          const res = await v1("GET", "/v1/integrations/stripe/proxy/v1/balance");
          if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`);
        }
      }),
    );
    await app.services.callLog.flush();
    await app.services.requestLog.flush();
    const used = process.cpuUsage(before);
    const dbAfter = (await backends.snapshot())!;
    app.logs.length = 0;
    if (r === 0) continue; // warm-up
    own.push((used.user + used.system) / n);
    db.push((backendCpuDelta(dbBefore, dbAfter) * 1000) / n);
  }
  console.log(
    `proxied GET, ${rounds} rounds of ${n} (${concurrency} at a time): CPU µs/request ${median(own).toFixed(0)} this process + ${median(db).toFixed(0)} PostgreSQL (medians; rounds ${own.map((x) => x.toFixed(0)).join("/")} + ${db.map((x) => x.toFixed(0)).join("/")})`,
  );
  await backends.close();
  await app.close();
  await fake.stop();
} finally {
  killAllStarted();
}
