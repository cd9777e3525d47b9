import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { CounterFamily, HistogramFamily } from "./cells.ts";

/** Seconds: from a cached GET (~1 ms) to a provider call that hit its timeout. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface JobQueueRow {
  name: string;
  depth: number;
  oldestDueSeconds: number;
  oldestAgeSeconds: number;
}

/** What the scrape asks the database and the pool for, at scrape time only. */
export interface ScrapeSources {
  /** Queued jobs per name: how many, and how long the oldest due one has waited (seconds). */
  jobQueue?(): Promise<JobQueueRow[]>;
  /** The job name whose oldest queued job's age is the webhook delivery lag. */
  webhookJob?: string;
  /** Database connections: in use by a query, and queries waiting for one. */
  pool?(): { inUse: number; waiting: number; total: number };
}

/**
 * Every Prometheus series Patchbay exports, on a registry of its own (one per
 * app, so tests can build several in one process). Counters are bumped where
 * the thing happens; gauges over the database (job queue, webhook lag, pool)
 * are read only when /metrics is scraped, never per request.
 */
export function createMetrics({ processMetrics = true }: { processMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry, prefix: "patchbay_" });
  const sources: ScrapeSources = {};
  const registers = [registry];
  // Read once per scrape, before the gauges are collected: two gauges, one query.
  let snapshot: JobQueueRow[] = [];

  // Bumped on every request: cells, not prom-client's labelled children (cells.ts).
  const httpRequests = new CounterFamily({ name: "patchbay_http_requests_total", help: "HTTP requests answered, by method, route pattern and status.", labelNames: ["method", "route", "status"], registers });
  const httpDuration = new HistogramFamily({
    name: "patchbay_http_request_duration_seconds",
    help: "Time to answer an HTTP request, by method, route pattern and status.",
    labelNames: ["method", "route", "status"],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const rateLimited = new Counter({
    name: "patchbay_rate_limit_refusals_total",
    help: "Requests refused with 429: reason api_key (the key's rate limit) or failed_authentications (the address's throttle).",
    labelNames: ["reason"],
    registers,
  });
  const idempotency = new Counter({
    name: "patchbay_idempotency_outcomes_total",
    help: "Writes with an Idempotency-Key that did not simply execute: replayed, in_use (409, a retry while the first runs) or mismatch (409, another request's key).",
    labelNames: ["outcome"],
    registers,
  });
  const webhookAttempts = new Counter({ name: "patchbay_webhook_delivery_attempts_total", help: "Webhook delivery attempts, by result (succeeded or failed).", labelNames: ["result"], registers });
  const webhookDuration = new Histogram({ name: "patchbay_webhook_delivery_duration_seconds", help: "Time a webhook receiver took to answer one attempt.", buckets: LATENCY_BUCKETS, registers });
  const providerCalls = new CounterFamily({
    name: "patchbay_provider_calls_total",
    help: "Outbound provider calls (retries included), by connector type and final status (the HTTP status, or timeout / network).",
    labelNames: ["provider", "status"],
    registers,
  });
  const providerDuration = new HistogramFamily({ name: "patchbay_provider_call_duration_seconds", help: "Time of one provider call (retries included), by connector type.", labelNames: ["provider"], buckets: LATENCY_BUCKETS, registers });
  const vaultOps = new Counter({ name: "patchbay_vault_operations_total", help: "Vault operations: seal, open, destroy.", labelNames: ["operation"], registers });

  new Gauge({
    name: "patchbay_jobs_queued",
    help: "Queued jobs per job name (due now or later; retries included).",
    labelNames: ["job"],
    registers,
    collect() {
      this.reset();
      for (const row of snapshot) this.set({ job: row.name }, row.depth);
    },
  });
  new Gauge({
    name: "patchbay_jobs_oldest_due_age_seconds",
    help: "How long the oldest due job of each name has waited past its run time (0 when none is due).",
    labelNames: ["job"],
    registers,
    collect() {
      this.reset();
      for (const row of snapshot) this.set({ job: row.name }, row.oldestDueSeconds);
    },
  });
  new Gauge({
    name: "patchbay_webhook_delivery_lag_seconds",
    help: "Age of the oldest webhook delivery still pending, since its event (0 when none is).",
    registers,
    collect() {
      this.set(snapshot.find((r) => r.name === sources.webhookJob)?.oldestAgeSeconds ?? 0);
    },
  });
  const poolGauge = (name: string, help: string, pick: (p: { inUse: number; waiting: number; total: number }) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const p = sources.pool?.();
        this.set(p ? pick(p) : 0);
      },
    });
  poolGauge("patchbay_db_pool_connections_in_use", "Database connections checked out by a query.", (p) => p.inUse);
  poolGauge("patchbay_db_pool_waiting", "Queries waiting for a database connection.", (p) => p.waiting);
  poolGauge("patchbay_db_pool_connections", "Database connections open.", (p) => p.total);

  return {
    registry,
    /** Lets the app and main wire what the gauges read at scrape time. */
    sources,
    httpRequests,
    httpDuration,
    rateLimited,
    idempotency,
    webhookAttempts,
    webhookDuration,
    providerCalls,
    providerDuration,
    vaultOps,
    /** The exposition text (and its content type). */
    async render(): Promise<{ contentType: string; body: string }> {
      snapshot = (await sources.jobQueue?.()) ?? [];
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
