import path from "node:path";

/**
 * Every environment variable Patchbay reads, parsed once at boot.
 * Nothing else in the tree reads process.env.
 */
export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** null → embedded PGlite under dataDir/pglite */
  databaseUrl: string | null;
  adminToken: string | null;
  publicUrl: string;
  /** Where the CLI finds a running server (PATCHBAY_URL). */
  serverUrl: string;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  bodyLimitBytes: number;
  /** Days a disconnected connector keeps its sealed credentials. */
  recoveryWindowDays: number;
  /** Key ring, newest first; empty means "generate one" in embedded mode. */
  masterKeys: string | null;
  /** Base URL overrides per provider, from PATCHBAY_PROVIDER_URL_<TYPE>. */
  providerUrls: Record<string, string>;
  redisUrl: string | null;
  rateLimits: { live: { perMinute: number; burst: number }; test: { perMinute: number; burst: number } };
  shopify: { clientId: string | null; clientSecret: string | null; scopes: string };
  webhookAllowPrivate: boolean;
  jobsEnabled: boolean;
  /** Signs connection tokens; null → derived key stored in the data dir. */
  connectionTokenSecret: string | null;
  /** How often the job re-checks an active connection's login with its retailer. */
  connectionCheckIntervalHours: number;
  /** How often each process's job runner looks for due jobs. */
  jobsPollMs: number;
  /** Jobs one process runs at the same time. */
  jobsConcurrency: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable}: ${reason}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | null {
  const v = env[name];
  return v === undefined || v.trim() === "" ? null : v.trim();
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name);
  if (raw === null) return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function url(env: Env, name: string, protocols: string[]): string | null {
  const raw = str(env, name);
  if (raw === null) return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, "must be an absolute URL");
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(" or ")}, got ${parsed.protocol}`);
  }
  return raw;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const host = str(env, "HOST") ?? "127.0.0.1";
  const port = int(env, "PORT", 8080, 0, 65535);
  const dataDir = path.resolve(cwd, str(env, "PATCHBAY_DATA_DIR") ?? "data");
  const databaseUrl = url(env, "DATABASE_URL", ["postgres:", "postgresql:"]);

  const logLevel = (str(env, "LOG_LEVEL") ?? "info") as Config["logLevel"];
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError("LOG_LEVEL", `must be one of ${LOG_LEVELS.join(", ")}`);
  }

  const adminToken = str(env, "PATCHBAY_ADMIN_TOKEN");
  if (adminToken !== null && adminToken.length < 24) {
    throw new ConfigError("PATCHBAY_ADMIN_TOKEN", "must be at least 24 characters");
  }

  const providerUrls: Record<string, string> = {};
  for (const name of Object.keys(env)) {
    const m = /^PATCHBAY_PROVIDER_URL_([A-Z0-9_]+)$/.exec(name);
    if (m?.[1]) {
      const value = url(env, name, ["http:", "https:"]);
      if (value) providerUrls[m[1].toLowerCase()] = value.replace(/\/+$/, "");
    }
  }

  const connectionTokenSecret = str(env, "PATCHBAY_CONNECTION_TOKEN_SECRET");
  if (connectionTokenSecret !== null && connectionTokenSecret.length < 32) {
    throw new ConfigError("PATCHBAY_CONNECTION_TOKEN_SECRET", "must be at least 32 characters (e.g. `openssl rand -base64 32`)");
  }

  const publicUrl = (url(env, "PATCHBAY_PUBLIC_URL", ["http:", "https:"]) ?? `http://${host}:${port}`).replace(/\/+$/, "");

  const localHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  const serverUrl = (url(env, "PATCHBAY_URL", ["http:", "https:"]) ?? `http://${localHost.includes(":") ? `[${localHost}]` : localHost}:${port}`).replace(/\/+$/, "");

  return {
    host,
    port,
    dataDir,
    databaseUrl,
    adminToken,
    publicUrl,
    serverUrl,
    logLevel,
    bodyLimitBytes: int(env, "PATCHBAY_BODY_LIMIT_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024),
    recoveryWindowDays: int(env, "PATCHBAY_RECOVERY_DAYS", 7, 1, 365),
    masterKeys: str(env, "PATCHBAY_MASTER_KEYS"),
    providerUrls,
    redisUrl: url(env, "REDIS_URL", ["redis:", "rediss:"]),
    rateLimits: {
      live: {
        perMinute: int(env, "PATCHBAY_RATE_LIMIT_LIVE_PER_MINUTE", 300, 1, 1_000_000),
        burst: int(env, "PATCHBAY_RATE_LIMIT_LIVE_BURST", 50, 1, 1_000_000),
      },
      test: {
        perMinute: int(env, "PATCHBAY_RATE_LIMIT_TEST_PER_MINUTE", 60, 1, 1_000_000),
        burst: int(env, "PATCHBAY_RATE_LIMIT_TEST_BURST", 10, 1, 1_000_000),
      },
    },
    shopify: {
      clientId: str(env, "SHOPIFY_CLIENT_ID"),
      clientSecret: str(env, "SHOPIFY_CLIENT_SECRET"),
      scopes: str(env, "SHOPIFY_SCOPES") ?? "read_orders,read_products,read_fulfillments,write_fulfillments",
    },
    webhookAllowPrivate: bool(env, "PATCHBAY_WEBHOOK_ALLOW_PRIVATE", false),
    jobsEnabled: bool(env, "PATCHBAY_JOBS", true),
    connectionTokenSecret,
    connectionCheckIntervalHours: int(env, "PATCHBAY_CONNECTION_CHECK_HOURS", 24, 1, 8760),
    jobsPollMs: int(env, "PATCHBAY_JOBS_POLL_MS", 250, 10, 60_000),
    jobsConcurrency: int(env, "PATCHBAY_JOBS_CONCURRENCY", 4, 1, 100),
  };
}
