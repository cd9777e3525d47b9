/**
 * The provider-call log's write cost per logged call, on PostgreSQL, where
 * machine load cannot blur it: `batch` calls recorded (the proxy's
 * callLog.record) then flushed, `rounds` times; the figures are the PostgreSQL
 * backends' CPU time and this process's CPU time per row, means over the rounds.
 *
 *   node --import tsx bench/provider-call-log.ts [batch=300] [rounds=15]
 */
import { BackendCpu, backendCpuDelta } from "./cpu.ts";
import { startTestApp } from "../test/helpers/app.ts";
import { createTenant, asKey } from "../test/helpers/fixtures.ts";
import { PG_ADMIN_URL } from "../test/helpers/databases.ts";

const batch = Number(process.argv[2] ?? 300);
const rounds = Number(process.argv[3] ?? 15);
const app = await startTestApp("postgres", { env: { PATCHBAY_PROVIDER_LOG_FLUSH_MS: "60000", LOG_LEVEL: "warn" } });
const tenant = await createTenant(app);
const v1 = asKey(app, tenant);
const created = await v1("POST", "/v1/integrations/stripe", { mode: "live" });
if (created.statusCode !== 201) throw new Error(created.body);
const connector = created.json() as { id: string };
const database = new URL(app.database.url!).pathname.slice(1);
const backends = new BackendCpu(PG_ADMIN_URL, database);
const ctx = { entityId: tenant.entityId, connectorId: connector.id, connectorType: "stripe", purpose: "proxy" as const, requestId: "req_0123456789abcdefghij" };
const outcome = { method: "GET", path: "/v1/balance", status: 200, latencyMs: 1.3, bytesSent: 0, bytesReceived: 92, errorClass: null };
const db: number[] = [];
const own: number[] = [];
for (let r = 0; r < rounds + 2; r++) {
  const dbBefore = (await backends.snapshot())!;
  const before = process.cpuUsage();
  for (let i = 0; i < batch; i++) app.services.callLog.record(ctx, outcome);
  await app.services.callLog.flush();
  const used = process.cpuUsage(before);
  const dbAfter = (await backends.snapshot())!;
  if (r < 2) continue;
  db.push((backendCpuDelta(dbBefore, dbAfter) * 1000) / batch);
  own.push((used.user + used.system) / batch);
}
// /proc counts CPU in clock ticks (10 ms): the mean over all rounds, not a median of coarse rounds.
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(`provider-call log, ${rounds} batches of ${batch}: PostgreSQL backends ${mean(db).toFixed(1)} µs/row, this process ${mean(own).toFixed(1)} µs/row (means)`);
await backends.close();
await app.close();
