import path from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { resolveAdminToken } from "./auth/admin-token.ts";
import { buildApp } from "./app.ts";
import { systemClock } from "./kernel/clock.ts";
import { boundHeapGrowth, boundYoungGeneration } from "./kernel/heap.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { lockDataDir } from "./db/data-dir-lock.ts";
import { EmbeddedAdmission } from "./db/embedded-admission.ts";
import { openDatabase } from "./db/index.ts";
import { migrate } from "./db/migrate.ts";
import { startMetricsServer } from "./metrics/server.ts";
import { createLogDestination, loggerOptions, prettyLogDestination, wantsPrettyLogs } from "./logging.ts";
import { createServices } from "./compose.ts";
import { installShutdown } from "./shutdown.ts";
import { describeDatabase, startupSummaryText } from "./startup-summary.ts";
import { resolveKeyRing } from "./vault/key-ring.ts";

/** Beside the bundle (dist/): the migrated embedded database a first start copies in (src/db/pglite-image.ts); absent under tsx. */
const PGLITE_IMAGE = path.join(path.dirname(fileURLToPath(import.meta.url)), "pglite-image");

/** Process entry: config → keys → db → migrate → server (+ jobs). Nothing else. */
async function main(): Promise<void> {
  const config = loadConfig();
  boundHeapGrowth(config.heapGrowthPercent);
  boundYoungGeneration(config.heapSemiSpaceMb);
  const unlock = config.databaseUrl ? () => {} : lockDataDir(config.dataDir);
  // Before the database opens: PostgreSQL without PATCHBAY_MASTER_KEYS stops here.
  const keys = resolveKeyRing(config);
  const admin = resolveAdminToken(config.adminToken, config.dataDir);
  const database = await openDatabase(config.databaseUrl ? { kind: "postgres", url: config.databaseUrl, connectTimeoutMs: config.dbConnectTimeoutMs, prepare: config.pgPrepare } : { kind: "pglite", dataDir: config.dataDir, image: PGLITE_IMAGE, optimizeWasm: config.embeddedWasmOptimize });
  // One destination for every logger: never flushed synchronously, so a stalled log pipe cannot hold the exit.
  const pretty = wantsPrettyLogs(config.logFormat);
  const stdout = createLogDestination();
  const logs = pretty ? prettyLogDestination(stdout, process.stdout.isTTY === true) : stdout;
  const logger = pino(loggerOptions(config.logLevel) as pino.LoggerOptions, logs);
  const migrated = await migrate(database.db, logger.child({ component: "migrations" }));

  const services = createServices({ db: database.db, clock: systemClock, config, keyRing: keys.ring, logger: logger.child({ component: "providers" }) });
  // The embedded database is one session: requests beyond its bounded line are answered 503 at once (embedded-admission.ts).
  const admission = config.databaseUrl ? undefined : new EmbeddedAdmission({ queueLimit: config.embeddedQueueLimit, maxWaitMs: config.embeddedMaxWaitMs });
  const app = await buildApp({ config, db: database.db, services, adminToken: admin.token, logStream: logs, poolStats: database.poolStats, admission });

  if (keys.generatedFile) {
    app.log.warn(
      { file: keys.generatedFile },
      "generated a master key for the vault: back it up apart from the data dir (without it no sealed secret can be opened), " +
        "and consider moving it into PATCHBAY_MASTER_KEYS",
    );
  }
  const vault = await services.vault.status();
  if (vault.unreadable > 0) {
    const missing = vault.secrets_by_key.filter((k) => !k.configured).map((k) => k.key_id);
    app.log.error(
      { unreadable: vault.unreadable, missingKeyIds: missing },
      "some secrets are sealed under master keys missing from PATCHBAY_MASTER_KEYS and cannot be opened: add those keys back, then run `npx patchbay vault rewrap`",
    );
  }

  if (admin.created) {
    // Printed once, on the first start; afterwards it lives only in the 0600 file.
    process.stdout.write(`\nAdmin token (also saved to ${admin.file}):\n  ${admin.token}\n\n`);
  }

  installShutdown({ app, stopJobs: (graceMs) => services.jobs.stop(graceMs), closeDatabase: () => database.close(), logs, release: unlock });

  await app.listen({ host: config.host, port: config.port });
  let metricsAt = config.metrics.token !== null ? `${config.publicUrl}/metrics (Bearer PATCHBAY_METRICS_TOKEN)` : null;
  if (config.metrics.port !== null) {
    const metricsServer = await startMetricsServer({ metrics: services.metrics, host: config.metrics.host, port: config.metrics.port });
    app.addHook("onClose", () => metricsServer.close());
    metricsAt = [metricsAt, `${metricsServer.url}/metrics`].filter(Boolean).join(" and ");
  }
  if (config.jobsEnabled) services.jobs.start(app.log.child({ component: "jobs" }));
  const summary = {
    url: config.publicUrl,
    database: describeDatabase(config.databaseUrl, config.dataDir),
    dataDir: config.databaseUrl ? null : config.dataDir,
    migrated,
    adminToken: admin.file ? `in ${admin.file}` : "PATCHBAY_ADMIN_TOKEN (environment)",
    jobs: config.jobsEnabled ? services.jobs.names() : null,
    metrics: metricsAt,
  };
  // One summary: a block for a person, one line of fields for a log collector.
  if (pretty && config.logLevel !== "silent") stdout.write(startupSummaryText(summary));
  else app.log.info(summary, "patchbay ready");
}

main().catch((err) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`patchbay: configuration error: ${err.message}\n`);
  } else {
    process.stderr.write(`patchbay: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  process.exit(1);
});
