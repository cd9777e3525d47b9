/**
 * The request log's own work per logged request, where machine noise cannot
 * blur it: the service records `perBatch` requests and writes them as one
 * batch, twenty batches a round (the backends' CPU is read in 10 ms ticks:
 * 20,000 requests make a tick 0.5 µs each), seven rounds; the CPU it takes
 * (this process, and the PostgreSQL backend writing them) per logged request,
 * median of the rounds. Used by bench/request-log-overhead.ts and bench/request-log-onoff.ts.
 */
import { createTestDatabase, PG_ADMIN_URL } from "../test/helpers/databases.ts";
import { BackendCpu, backendCpuDelta } from "./cpu.ts";
import { createRequestLog } from "../src/services/request-logs.ts";
import { median } from "./report.ts";


export async function loggedRowCost(kind: "postgres" | "pglite", perFlush: number, keyCount = 4): Promise<{ nodeUs: number; dbUs: number | null }> {
  const database = await createTestDatabase(kind, { poolSize: 1 });
  const backends = kind === "postgres" ? new BackendCpu(PG_ADMIN_URL, new URL(database.url!).pathname.slice(1)) : null;
  const log = createRequestLog({ db: database.db, clock: { now: () => new Date() }, lastUsed: { markUsed: async () => {} }, flushMs: 3_600_000 });
  const keys = Array.from({ length: keyCount }, () => crypto.randomUUID());
  const entity = crypto.randomUUID();
  const batches = 20;
  let n = 0;
  const round = async () => {
    for (let b = 0; b < batches; b++) {
      for (let i = 0; i < perFlush; i++) {
        log.record({ entityId: entity, keyId: keys[n % keyCount]!, mode: "live", method: "GET", url: "/v1/integrations/stripe", status: 200, latencyMs: 4.2, clientIp: "127.0.0.1", requestId: `req_${(n++).toString(36).padStart(20, "0")}` });
      }
      await log.flush();
    }
  };
  const nodeUs: number[] = [];
  const dbUs: number[] = [];
  try {
    await round();
    for (let r = 0; r < 7; r++) {
      const c0 = process.cpuUsage();
      const d0 = await backends?.snapshot();
      await round();
      const c = process.cpuUsage(c0);
      const d1 = await backends?.snapshot();
      nodeUs.push((c.user + c.system) / (batches * perFlush));
      if (d0 && d1) dbUs.push((backendCpuDelta(d0, d1) * 1000) / (batches * perFlush));
    }
  } finally {
    await backends?.close();
    await database.close();
  }
  return { nodeUs: median(nodeUs), dbUs: dbUs.length > 0 ? median(dbUs) : null };
}
