import { resolveAdminToken } from "./auth/admin-token.ts";
import { buildApp } from "./app.ts";
import { systemClock } from "./clock.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { lockDataDir } from "./db/data-dir-lock.ts";
import { openDatabase } from "./db/index.ts";
import { migrate } from "./db/migrate.ts";
import { createServices } from "./services/index.ts";

/** Process entry: config → db → migrate → server (+ jobs). Nothing else. */
async function main(): Promise<void> {
  const config = loadConfig();
  const unlock = config.databaseUrl ? () => {} : lockDataDir(config.dataDir);
  const admin = resolveAdminToken(config.adminToken, config.dataDir);
  const database = await openDatabase(config.databaseUrl ? { kind: "postgres", url: config.databaseUrl } : { kind: "pglite", dataDir: config.dataDir });
  await migrate(database.db);

  const services = createServices({ db: database.db, clock: systemClock, config });
  const app = await buildApp({ config, db: database.db, services, adminToken: admin.token });

  if (admin.created) {
    // Printed once, on the first start; afterwards it lives only in the 0600 file.
    process.stdout.write(`\nAdmin token (also saved to ${admin.file}):\n  ${admin.token}\n\n`);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, "shutting down");
    await app.close();
    await services.jobs.stop();
    await database.close();
    unlock();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));

  await app.listen({ host: config.host, port: config.port });
  if (config.jobsEnabled) services.jobs.start(app.log.child({ component: "jobs" }));
  app.log.info({ database: database.kind, dataDir: config.databaseUrl ? undefined : config.dataDir }, "patchbay ready");
}

main().catch((err) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`patchbay: configuration error: ${err.message}\n`);
  } else {
    process.stderr.write(`patchbay: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  process.exit(1);
});
