/**
 * Webhook throughput, end to end: N events, each emitted in its own
 * transaction (as a write would), fanned out to one endpoint, delivered by
 * the job runner to a receiver on 127.0.0.1 that answers 200. Reports
 * delivered events/s (first emit → last receipt) and the emit → receipt
 * latency (p50, p95, max).
 *
 *   node --import tsx bench/webhooks.ts [events=1000] [kinds=pglite,postgres] [concurrency=16] [emitters=4]
 *
 * concurrency is PATCHBAY_JOBS_CONCURRENCY (deliveries in flight in the one
 * process); emitters, transactions emitting at the same time. PostgreSQL
 * needs 127.0.0.1:5432 (as the tests do); the database is made and dropped.
 */
import { adminActor } from "../src/services/audit.ts";
import { createSecretKey, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { systemClock } from "../src/kernel/clock.ts";
import { loadConfig } from "../src/config.ts";
import type { DatabaseKind } from "../src/db/index.ts";
import type { ApiKeyActor } from "../src/auth/actor.ts";
import { createServices } from "../src/compose.ts";
import { emitEvent } from "../src/services/outbox.ts";
import { KeyRing } from "../src/vault/envelope.ts";
import { createTestDatabase } from "../test/helpers/databases.ts";

const events = Number(process.argv[2] ?? 1000);
const kinds = (process.argv[3] ?? "pglite,postgres").split(",") as DatabaseKind[];
const concurrency = Number(process.argv[4] ?? 16);
const emitters = Number(process.argv[5] ?? 4);

async function startReceiver() {
  const arrived = new Map<string, number>();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      arrived.set(String(req.headers["patchbay-event-id"]), performance.now());
      res.writeHead(200).end();
    });
  });
  server.keepAliveTimeout = 1;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, arrived, close: () => new Promise((r) => server.close(r)) };
}

async function run(kind: DatabaseKind) {
  const database = await createTestDatabase(kind);
  const config = loadConfig({ PATCHBAY_WEBHOOK_ALLOW_PRIVATE: "true", PATCHBAY_JOBS_CONCURRENCY: String(concurrency), LOG_LEVEL: "silent" });
  const keyRing = new KeyRing([{ id: "bench", key: createSecretKey(randomBytes(32)) }]);
  const services = createServices({ db: database.db, clock: systemClock, config, keyRing });
  const receiver = await startReceiver();
  try {
    const entity = await services.entities.createEntity("Bench", adminActor());
    const actor = { type: "api_key", keyId: "bench", entityId: entity.id, mode: "live", scopes: ["webhooks:manage"], publicKey: "bench", rateLimit: { perMinute: 1, burst: 1 } } as ApiKeyActor;
    await services.webhookEndpoints.createEndpoint(actor, { url: receiver.url, events: ["*"] });
    services.jobs.start();
    // Past the worker's start-up round of recurring jobs.
    await new Promise((r) => setTimeout(r, 1000));

    const emittedAt = new Map<string, number>();
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: emitters }, async () => {
        while (next < events) {
          next++;
          const at = performance.now();
          const id = await database.db.transaction().execute((trx) =>
            emitEvent(trx, { entityId: entity.id, type: "connector.updated", data: { id: "bench", display_name: "Bench", n: next }, at: systemClock.now() }),
          );
          emittedAt.set(id, at);
        }
      }),
    );
    const emitSeconds = (performance.now() - started) / 1000;
    while (receiver.arrived.size < events && performance.now() - started < 600_000) await new Promise((r) => setTimeout(r, 5));
    const last = Math.max(...receiver.arrived.values());
    const seconds = (last - started) / 1000;
    const latencies = [...emittedAt].map(([id, at]) => (receiver.arrived.get(id) ?? Infinity) - at).sort((a, b) => a - b);
    const pct = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!);
    // The receipt comes before the attempt is recorded: let the last records land.
    await new Promise((r) => setTimeout(r, 500));
    const failed = await database.db.selectFrom("webhook_deliveries").select((eb) => eb.fn.countAll<string>().as("n")).where("status", "!=", "succeeded").executeTakeFirstOrThrow();
    await services.jobs.stop();

    // A backlog drained: the same number of events emitted with the worker stopped, then delivered.
    receiver.arrived.clear();
    for (let i = 0; i < events; i++) {
      await database.db.transaction().execute((trx) => emitEvent(trx, { entityId: entity.id, type: "connector.updated", data: { id: "bench", n: i }, at: systemClock.now() }));
    }
    const drainStart = performance.now();
    services.jobs.start();
    while (receiver.arrived.size < events && performance.now() - drainStart < 600_000) await new Promise((r) => setTimeout(r, 5));
    const drainSeconds = (Math.max(...receiver.arrived.values()) - drainStart) / 1000;
    process.stdout.write(
      `${kind.padEnd(8)} ${events} events: emitted in ${emitSeconds.toFixed(2)} s (${Math.round(events / emitSeconds)}/s); ` +
        `all delivered in ${seconds.toFixed(2)} s → ${Math.round(events / seconds)} events/s end to end; ` +
        `latency p50 ${pct(0.5)} ms, p95 ${pct(0.95)} ms, max ${pct(1)} ms; not succeeded: ${failed.n}; ` +
        `a backlog of ${events} drained at ${Math.round(events / drainSeconds)} events/s\n`,
    );
  } finally {
    await services.jobs.stop();
    await receiver.close();
    await database.close();
  }
}

process.stdout.write(`node ${process.version}, jobs concurrency ${concurrency}, ${emitters} emitters, poll ${loadConfig({}).jobsPollMs} ms\n`);
for (const kind of kinds) await run(kind);
