import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { sql } from "kysely";
import { adminTokenVerifier } from "../../auth/admin-token.ts";
import type { Database } from "../../db/index.ts";
import { pendingMigrations } from "../../db/migrate.ts";
import type { Metrics } from "../../metrics/registry.ts";
import { AuthenticationError, NotFoundError } from "../../kernel/errors.ts";

export interface OperationsOptions {
  db: Database;
  metrics: Metrics;
  /** /metrics on this port needs this Bearer token; null → /metrics is not served here (404). */
  metricsToken: string | null;
  /** Whether this process runs the job worker (PATCHBAY_JOBS); readiness then requires it to be running. */
  jobsEnabled: boolean;
  jobsRunning(): boolean;
}

const tags = ["Operations"];
const Check = Type.Union([Type.Literal("ok"), Type.Literal("failing"), Type.Literal("disabled")]);
const Readiness = Type.Object(
  {
    status: Type.Union([Type.Literal("ok"), Type.Literal("not_ready")]),
    checks: Type.Object({ database: Check, migrations: Check, jobs: Check }),
    pending_migrations: Type.Array(Type.String(), { description: "Migrations not yet applied (the server applies them at start)." }),
  },
  { description: "Each check: ok, failing, or disabled (jobs off in this process)." },
);
const Health = Type.Object({
  status: Type.Union([Type.Literal("ok"), Type.Literal("migrating"), Type.Literal("database_unreachable")]),
  pending: Type.Optional(Type.Array(Type.String())),
});

/**
 * The probes and the metrics scrape. /livez answers while the process runs
 * its event loop (a Kubernetes liveness probe: restart when it fails);
 * /readyz answers 200 only when the database answers, every migration is
 * applied and, where this process runs jobs, the worker is running (a
 * readiness probe: send traffic only then). /healthz is the older combined
 * check, kept for compatibility.
 */
export async function operationsRoutes(app: FastifyInstance, opts: OperationsOptions): Promise<void> {
  app.get(
    "/livez",
    { schema: { operationId: "getLiveness", summary: "Liveness probe", description: "200 while the process is up; touches nothing else.", tags, security: [], response: { 200: Type.Object({ status: Type.Literal("ok") }) } } },
    async () => ({ status: "ok" as const }),
  );

  app.get(
    "/readyz",
    {
      schema: {
        operationId: "getReadiness",
        summary: "Readiness probe",
        description: "200 when the database answers, every migration is applied and (with PATCHBAY_JOBS on) the job worker runs; 503 with the failing checks otherwise.",
        tags,
        security: [],
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const checks = { database: "ok", migrations: "ok", jobs: opts.jobsEnabled ? (opts.jobsRunning() ? "ok" : "failing") : "disabled" } as const satisfies Record<string, "ok" | "failing" | "disabled">;
      let pending: string[] = [];
      const result = { ...checks } as Record<keyof typeof checks, "ok" | "failing" | "disabled">;
      try {
        await sql`select 1`.execute(opts.db);
        pending = await pendingMigrations(opts.db);
        if (pending.length > 0) result.migrations = "failing";
      } catch {
        result.database = "failing";
        result.migrations = "failing";
      }
      const ready = Object.values(result).every((c) => c !== "failing");
      return reply.status(ready ? 200 : 503).send({ status: ready ? "ok" : "not_ready", checks: result, pending_migrations: pending });
    },
  );

  app.get(
    "/healthz",
    {
      schema: {
        operationId: "getHealth",
        summary: "Combined health check",
        description: "200 when the database answers and every migration is applied; 503 otherwise. Prefer /livez and /readyz for probes.",
        tags,
        security: [],
        response: { 200: Health, 503: Health },
      },
    },
    async (_request, reply) => {
      try {
        await sql`select 1`.execute(opts.db);
        const pending = await pendingMigrations(opts.db);
        if (pending.length > 0) return reply.status(503).send({ status: "migrating", pending });
        return { status: "ok" as const };
      } catch {
        return reply.status(503).send({ status: "database_unreachable" });
      }
    },
  );

  const verifier = opts.metricsToken === null ? null : adminTokenVerifier(opts.metricsToken);
  app.get(
    "/metrics",
    {
      schema: {
        operationId: "getMetrics",
        summary: "Prometheus metrics",
        description:
          "The Prometheus text exposition format. Served on the main port only when PATCHBAY_METRICS_TOKEN is set (send it as a Bearer token; 404 otherwise), " +
          "and on PATCHBAY_METRICS_PORT without a token when that is set.",
        tags,
        security: [{ metricsToken: [] }],
        response: { 200: { description: "Prometheus text format 0.0.4", content: { "text/plain": { schema: Type.String() } } } },
      },
    },
    async (request: FastifyRequest, reply: FastifyReply) => {
      if (verifier === null) throw new NotFoundError("not_found", "No route GET /metrics.", "Set PATCHBAY_METRICS_TOKEN (or PATCHBAY_METRICS_PORT) to serve metrics.");
      const presented = /^Bearer (.+)$/i.exec(request.headers.authorization ?? "")?.[1];
      if (presented === undefined || !verifier.verify(presented)) {
        throw new AuthenticationError("metrics_token_invalid", "A valid metrics token is required.", "Send Authorization: Bearer <PATCHBAY_METRICS_TOKEN>.");
      }
      const { contentType, body } = await opts.metrics.render();
      return reply.type(contentType).send(body);
    },
  );
}
