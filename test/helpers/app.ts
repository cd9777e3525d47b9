import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify";
import pino from "pino";
import { buildApp } from "../../src/app.ts";
import { loggerOptions } from "../../src/logging.ts";
import type { ProviderClient, ProviderLogger } from "../../src/providers/client.ts";
import type { Clock } from "../../src/kernel/clock.ts";
import { loadConfig, type Config } from "../../src/config.ts";
import { openDatabase, type DatabaseKind } from "../../src/db/index.ts";
import { migrate } from "../../src/db/migrate.ts";
import { createServices, type Services } from "../../src/compose.ts";
import type { ResolveHost } from "../../src/providers/webhook-address.ts";
import { ManualClock } from "./clock.ts";
import { createTestDatabase, type TestDatabase } from "./databases.ts";

export const ADMIN_TOKEN = "pb_admin_test_token_0123456789abcdef";

export interface TestApp {
  kind: DatabaseKind;
  app: FastifyInstance;
  database: TestDatabase;
  services: Services;
  config: Config;
  /** The server's data dir (a fresh temp dir; removed by close()). */
  dataDir: string;
  clock: ManualClock;
  /** Every log line the server wrote, raw. */
  logs: string[];
  /** Every response the tests received through `request`, raw (for leak checks). */
  responses: string[];
  request(opts: InjectOptions): Promise<LightMyRequestResponse>;
  admin(method: InjectOptions["method"], url: string, payload?: unknown): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  clock?: ManualClock;
  /** pglite only: keep the embedded database in files under the data dir, as a real server does (slower to start). */
  embeddedOnDisk?: boolean;
  /** pglite on disk in this data dir (e.g. one a backup was restored into) instead of a fresh temp dir; removed by close(). */
  dataDir?: string;
  /** A provider client of the test's own making (e.g. without backoff sleeps). */
  providers?: (config: Config, logger: ProviderLogger) => ProviderClient;
  /** DNS for webhook URLs (default: the system's). */
  resolveHost?: ResolveHost;
}

/** A Patchbay app on a fresh database of the given kind, driven through HTTP injection. */
export async function startTestApp(kind: DatabaseKind, opts: TestAppOptions = {}): Promise<TestApp> {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "patchbay-test-"));
  // The clock stands still and every injected request comes from 127.0.0.1: the security batteries' bad keys
  // would add up to a throttled address. test/auth-throttle.test.ts sets its own limit.
  const config = loadConfig({
    PATCHBAY_DATA_DIR: dataDir,
    PATCHBAY_ADMIN_TOKEN: ADMIN_TOKEN,
    LOG_LEVEL: "info",
    PATCHBAY_JOBS: "false",
    PATCHBAY_AUTH_FAILURES_PER_MINUTE: "1000000",
    PATCHBAY_DEMO_RETAILER_GATEWAY: "false",
    ...opts.env,
  });
  const database = kind === "pglite" && (opts.embeddedOnDisk || opts.dataDir) ? await onDisk(dataDir) : await createTestDatabase(kind, { prepare: config.pgPrepare });
  const clock = opts.clock ?? new ManualClock();
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const logger = pino(loggerOptions("info") as pino.LoggerOptions, logStream);
  const services = createServices({ db: database.db, clock: clock as Clock, config, logger, providers: opts.providers?.(config, logger), resolveHost: opts.resolveHost });
  const app = await buildApp({ config, db: database.db, services, adminToken: ADMIN_TOKEN, logStream, poolStats: database.poolStats });
  await app.ready();
  const responses: string[] = [];

  const request = async (o: InjectOptions) => {
    const res = await app.inject(o);
    responses.push(JSON.stringify(res.headers) + "\n" + res.body);
    return res;
  };

  return {
    kind,
    app,
    database,
    services,
    config,
    dataDir,
    clock,
    logs,
    responses,
    request,
    admin: (method, url, payload) => request({ method, url, payload: payload as InjectOptions["payload"], headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }),
    close: async () => {
      await app.close();
      await database.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function onDisk(dataDir: string): Promise<TestDatabase> {
  const database = await openDatabase({ kind: "pglite", dataDir });
  await migrate(database.db);
  return database;
}
