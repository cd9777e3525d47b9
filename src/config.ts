import { createSecretKey, type KeyObject } from "node:crypto";
import path from "node:path";
import { FAULT_STEPS, type FaultStep } from "./idempotency/fault-steps.ts";

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
  /** PostgreSQL: how long a query waits for a pooled connection (or a new one to open) before answering 503. */
  dbConnectTimeoutMs: number;
  /** PostgreSQL statements with parameters go as named prepared statements (off for a pooler that cannot carry them). */
  pgPrepare: boolean;
  /** Embedded database: requests that may wait for one of its admission slots; beyond, 503 (src/db/embedded-admission.ts). */
  embeddedQueueLimit: number;
  /** Embedded database: the longest a request waits for a slot before its 503 (PATCHBAY_EMBEDDED_MAX_WAIT_MS). */
  embeddedMaxWaitMs: number;
  /** Embedded database: PGlite's WASM tiers up to V8's optimising compiler (PATCHBAY_EMBEDDED_WASM_OPTIMIZE). */
  embeddedWasmOptimize: boolean;
  /** How far V8 lets the old generation grow past its last live size before a full collection (PATCHBAY_HEAP_GROWTH_PERCENT; 0 = V8's own factor). */
  heapGrowthPercent: number;
  /** The most each of the young generation's two semi-spaces grows to, in MB (PATCHBAY_HEAP_SEMI_SPACE_MB; 0 = V8's own, 16). */
  heapSemiSpaceMb: number;
  adminToken: string | null;
  publicUrl: string;
  /** Where the CLI finds a running server (PATCHBAY_URL). */
  serverUrl: string;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  bodyLimitBytes: number;
  /**
   * Bounds on slow clients: receiving a request's headers, receiving a whole
   * request (headers and body), and an idle keep-alive connection.
   */
  httpTimeouts: { headersMs: number; requestMs: number; keepAliveMs: number };
  /** Days a disconnected connector keeps its sealed credentials. */
  recoveryWindowDays: number;
  /**
   * The master key ring from PATCHBAY_MASTER_KEYS, newest first; null means
   * "generate one into the data dir" in embedded mode (PostgreSQL refuses to start).
   */
  masterKeys: MasterKey[] | null;
  /** How often the purge job looks for connectors past their recovery window. */
  purgeIntervalMs: number;
  /** Base URL overrides per provider, from PATCHBAY_PROVIDER_URL_<TYPE>. */
  providerUrls: Record<string, string>;
  /** Rate-limit counters live here when set (else in PostgreSQL / PGlite). */
  redisUrl: string | null;
  /** Prefix of every Redis key Patchbay writes, so one Redis can serve several deployments. */
  redisKeyPrefix: string;
  /**
   * Test-only fault switch (PATCHBAY_FAULT_CRASH=<step>:<probability>): an
   * idempotent write kills its own process at that step with that probability.
   * The crash suite (RELIABILITY.md) uses it; never set it in production.
   */
  faultCrash: { step: FaultStep; probability: number } | null;
  rateLimits: { live: { perMinute: number; burst: number }; test: { perMinute: number; burst: number } };
  /** Failed authentications a client address may make in a sliding minute before it is refused (429). */
  authFailuresPerMinute: number;
  /** How long a process may admit a key, or proxy to a connector, from memory before reading it again (0: never). The revocation bound. */
  cacheTtlMs: number;
  shopify: { clientId: string | null; clientSecret: string | null; scopes: string };
  /** Webhook URLs may be plain http and resolve to private, loopback or link-local addresses (development and tests only). */
  webhookAllowPrivate: boolean;
  /** How long a webhook receiver has to answer one delivery attempt. */
  webhookTimeoutMs: number;
  jobsEnabled: boolean;
  /** Signs connection tokens; null → a key derived from the master keys. */
  connectionTokenSecret: string | null;
  /** How often the job re-checks an active connection's login with its retailer. */
  connectionCheckIntervalHours: number;
  /** How often each process's job runner looks for due jobs. */
  jobsPollMs: number;
  /** Jobs one process runs at the same time. */
  jobsConcurrency: number;
  /** How often the health checks re-verify each active connector's credentials. */
  healthCheckIntervalMinutes: number;
  /**
   * GET /metrics: off unless a token (the main port, Bearer token) or a port
   * of its own (PATCHBAY_METRICS_HOST, loopback by default) is configured.
   */
  metrics: { token: string | null; port: number | null; host: string };
  /** pretty: colourised lines for a person; json: one JSON object a line; auto: pretty on a TTY. */
  logFormat: "auto" | "json" | "pretty";
  /** How long after a complete purchase sync a connection is synced again. */
  purchaseSyncIntervalMinutes: number;
  /** The demo retailer gateway is mounted at /demo/retailer-gateway and used for every retailer without a gateway URL. */
  demoRetailerGateway: boolean;
  /** The provider proxy's limits (SPEC §9). */
  proxy: ProxyConfig;
  /** Days the provider-call log keeps an entry. */
  providerLogRetentionDays: number;
  /** How long a provider-call log row may wait in memory before the batch is written (ms). */
  providerLogFlushMs: number;
  /** The API request log (README, Request logs): on or off, how long a row may wait in memory (ms), days an entry is kept. */
  requestLog: { enabled: boolean; flushMs: number; retentionDays: number };
  /** Provider webhooks in: deliveries one connector's inbound URL takes per sliding minute, and the body limit. */
  inboundWebhooks: { perMinute: number; maxBodyBytes: number };
}

export interface ProxyConfig {
  /** No provider answer (headers, or the next body chunk) within this → 504 proxy_timeout. */
  timeoutMs: number;
  /** Largest request body the proxy forwards (413 proxy_body_too_large). */
  maxRequestBytes: number;
  /** Largest response body the proxy relays (502 proxy_response_too_large, or the stream is cut). */
  maxResponseBytes: number;
  /** Attempts for a call that is safe to repeat (first try included). */
  maxAttempts: number;
  /** A provider 429 is retried only when its Retry-After is at most this; otherwise it is answered back. */
  retryAfterCapSeconds: number;
}

/** One master key: its id (stored beside every wrapped data key) and the 256-bit key, opaque to logging. */
export interface MasterKey {
  id: string;
  key: KeyObject;
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

function faultCrash(env: Env): Config["faultCrash"] {
  const raw = str(env, "PATCHBAY_FAULT_CRASH");
  if (raw === null) return null;
  const [step, p] = raw.split(":");
  const probability = Number(p ?? "1");
  if (!FAULT_STEPS.includes(step as FaultStep) || !(probability > 0 && probability <= 1)) {
    throw new ConfigError("PATCHBAY_FAULT_CRASH", `must be <step>:<probability> (a test-only switch), the step one of ${FAULT_STEPS.join(", ")} and the probability in (0, 1]; got "${raw}"`);
  }
  return { step: step as FaultStep, probability };
}

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

const MASTER_KEY_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

/**
 * `id:base64key[,id:base64key…]`, newest first; each key exactly 32 bytes.
 * Error messages name the entry and its id, never any key material.
 */
export function parseMasterKeys(raw: string, variable = "PATCHBAY_MASTER_KEYS"): MasterKey[] {
  const entries = raw.split(",").map((e) => e.trim());
  const ring: MasterKey[] = [];
  entries.forEach((entry, i) => {
    const where = `entry ${i + 1} of ${entries.length}`;
    const colon = entry.indexOf(":");
    if (colon < 0) throw new ConfigError(variable, `${where} is not in the form id:base64key (make one with \`npx patchbay master-key new\`)`);
    const id = entry.slice(0, colon);
    const encoded = entry.slice(colon + 1).replace(/-/g, "+").replace(/_/g, "/");
    if (!MASTER_KEY_ID.test(id)) throw new ConfigError(variable, `${where}: the key id must be 1-64 letters, digits, '.', '_' or '-'`);
    if (!BASE64.test(encoded)) throw new ConfigError(variable, `${where} (id "${id}"): the key is not valid base64`);
    const bytes = Buffer.from(encoded, "base64");
    if (bytes.length !== 32) throw new ConfigError(variable, `${where} (id "${id}"): the key must be 32 bytes (256 bits), got ${bytes.length}`);
    if (ring.some((k) => k.id === id)) throw new ConfigError(variable, `the key id "${id}" appears twice`);
    ring.push({ id, key: createSecretKey(bytes) });
    bytes.fill(0);
  });
  return ring;
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

  const masterKeys = str(env, "PATCHBAY_MASTER_KEYS");

  const httpTimeouts = {
    headersMs: int(env, "PATCHBAY_HEADERS_TIMEOUT_MS", 10_000, 100, 600_000),
    requestMs: int(env, "PATCHBAY_REQUEST_TIMEOUT_MS", 30_000, 100, 3_600_000),
    keepAliveMs: int(env, "PATCHBAY_KEEP_ALIVE_TIMEOUT_MS", 5_000, 100, 600_000),
  };
  if (httpTimeouts.headersMs > httpTimeouts.requestMs) {
    throw new ConfigError("PATCHBAY_HEADERS_TIMEOUT_MS", `must not exceed PATCHBAY_REQUEST_TIMEOUT_MS (${httpTimeouts.requestMs}), got ${httpTimeouts.headersMs}`);
  }

  const localHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  const serverUrl = (url(env, "PATCHBAY_URL", ["http:", "https:"]) ?? `http://${localHost.includes(":") ? `[${localHost}]` : localHost}:${port}`).replace(/\/+$/, "");

  // auto: on for the embedded database when no retailer gateway is configured (a fresh machine), off otherwise.
  const demoSetting = (str(env, "PATCHBAY_DEMO_RETAILER_GATEWAY") ?? "auto").toLowerCase();
  if (!["auto", "true", "false"].includes(demoSetting)) throw new ConfigError("PATCHBAY_DEMO_RETAILER_GATEWAY", `must be auto, true or false, got "${demoSetting}"`);
  const demoRetailerGateway = demoSetting === "true" || (demoSetting === "auto" && databaseUrl === null && !Object.keys(providerUrls).some((k) => k === "retailers" || k.startsWith("retailer_")));
  if (demoRetailerGateway) providerUrls.retailers ??= `${serverUrl}/demo/retailer-gateway`;

  return {
    host,
    port,
    dataDir,
    databaseUrl,
    dbConnectTimeoutMs: int(env, "PATCHBAY_DB_CONNECT_TIMEOUT_MS", 3000, 100, 60_000),
    pgPrepare: bool(env, "PATCHBAY_PG_PREPARE", true),
    embeddedQueueLimit: int(env, "PATCHBAY_EMBEDDED_QUEUE_LIMIT", 64, 0, 10_000),
    embeddedMaxWaitMs: int(env, "PATCHBAY_EMBEDDED_MAX_WAIT_MS", 500, 10, 60_000),
    embeddedWasmOptimize: bool(env, "PATCHBAY_EMBEDDED_WASM_OPTIMIZE", false),
    heapGrowthPercent: int(env, "PATCHBAY_HEAP_GROWTH_PERCENT", 25, 0, 400),
    heapSemiSpaceMb: int(env, "PATCHBAY_HEAP_SEMI_SPACE_MB", 8, 0, 256),
    adminToken,
    publicUrl,
    serverUrl,
    logLevel,
    bodyLimitBytes: int(env, "PATCHBAY_BODY_LIMIT_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024),
    httpTimeouts,
    recoveryWindowDays: int(env, "PATCHBAY_RECOVERY_DAYS", 7, 1, 365),
    masterKeys: masterKeys === null ? null : parseMasterKeys(masterKeys),
    purgeIntervalMs: int(env, "PATCHBAY_PURGE_INTERVAL_SECONDS", 600, 1, 86_400) * 1000,
    providerUrls,
    redisUrl: url(env, "REDIS_URL", ["redis:", "rediss:"]),
    redisKeyPrefix: str(env, "PATCHBAY_REDIS_PREFIX") ?? "patchbay:",
    faultCrash: faultCrash(env),
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
    authFailuresPerMinute: int(env, "PATCHBAY_AUTH_FAILURES_PER_MINUTE", 20, 1, 1_000_000),
    cacheTtlMs: int(env, "PATCHBAY_CACHE_TTL_MS", 1000, 0, 1000),
    shopify: {
      clientId: str(env, "SHOPIFY_CLIENT_ID"),
      clientSecret: str(env, "SHOPIFY_CLIENT_SECRET"),
      scopes: str(env, "SHOPIFY_SCOPES") ?? "read_orders,read_products,read_fulfillments,write_fulfillments",
    },
    webhookAllowPrivate: bool(env, "PATCHBAY_WEBHOOK_ALLOW_PRIVATE", false),
    webhookTimeoutMs: int(env, "PATCHBAY_WEBHOOK_TIMEOUT_MS", 10_000, 100, 60_000),
    jobsEnabled: bool(env, "PATCHBAY_JOBS", true),
    connectionTokenSecret,
    connectionCheckIntervalHours: int(env, "PATCHBAY_CONNECTION_CHECK_HOURS", 24, 1, 8760),
    jobsPollMs: int(env, "PATCHBAY_JOBS_POLL_MS", 250, 10, 60_000),
    jobsConcurrency: int(env, "PATCHBAY_JOBS_CONCURRENCY", 16, 1, 100),
    healthCheckIntervalMinutes: int(env, "PATCHBAY_HEALTH_CHECK_MINUTES", 60, 1, 10_080),
    purchaseSyncIntervalMinutes: int(env, "PATCHBAY_PURCHASE_SYNC_MINUTES", 60, 1, 10_080),
    demoRetailerGateway,
    inboundWebhooks: {
      perMinute: int(env, "PATCHBAY_INBOUND_WEBHOOKS_PER_MINUTE", 600, 1, 1_000_000),
      maxBodyBytes: int(env, "PATCHBAY_INBOUND_WEBHOOK_MAX_BODY_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024),
    },
    proxy: {
      timeoutMs: int(env, "PATCHBAY_PROXY_TIMEOUT_MS", 30_000, 100, 600_000),
      maxRequestBytes: int(env, "PATCHBAY_PROXY_MAX_REQUEST_BYTES", 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
      maxResponseBytes: int(env, "PATCHBAY_PROXY_MAX_RESPONSE_BYTES", 256 * 1024 * 1024, 1024, 16 * 1024 * 1024 * 1024),
      maxAttempts: int(env, "PATCHBAY_PROXY_MAX_ATTEMPTS", 3, 1, 10),
      retryAfterCapSeconds: int(env, "PATCHBAY_PROXY_RETRY_AFTER_CAP_SECONDS", 2, 0, 60),
    },
    providerLogRetentionDays: int(env, "PATCHBAY_PROVIDER_LOG_RETENTION_DAYS", 7, 1, 365),
    providerLogFlushMs: int(env, "PATCHBAY_PROVIDER_LOG_FLUSH_MS", 100, 10, 60_000),
    requestLog: {
      enabled: bool(env, "PATCHBAY_REQUEST_LOG", true),
      flushMs: int(env, "PATCHBAY_REQUEST_LOG_FLUSH_MS", 1_000, 10, 60_000),
      retentionDays: int(env, "PATCHBAY_REQUEST_LOG_RETENTION_DAYS", 30, 1, 3_650),
    },
    metrics: metricsConfig(env),
    logFormat: logFormatOf(env),
  };
}

function metricsConfig(env: Env): Config["metrics"] {
  const token = str(env, "PATCHBAY_METRICS_TOKEN");
  if (token !== null && token.length < 16) throw new ConfigError("PATCHBAY_METRICS_TOKEN", "must be at least 16 characters");
  const port = str(env, "PATCHBAY_METRICS_PORT") === null ? null : int(env, "PATCHBAY_METRICS_PORT", 0, 1, 65535);
  return { token, port, host: str(env, "PATCHBAY_METRICS_HOST") ?? "127.0.0.1" };
}

function logFormatOf(env: Env): Config["logFormat"] {
  const format = str(env, "LOG_FORMAT") ?? "auto";
  if (format !== "auto" && format !== "json" && format !== "pretty") throw new ConfigError("LOG_FORMAT", "must be auto, json or pretty");
  return format;
}
