import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from "fastify";
import type { Metrics } from "./registry.ts";
import type { CounterCell, HistogramCell } from "./cells.ts";

type Series = { count: CounterCell; duration: HistogramCell };

/**
 * One slot per route pattern, made when the route is declared: the labelled
 * children are looked up by method and status in two Map reads, so a
 * request allocates nothing here after its route's first answer with that
 * status, and its count and duration are a few additions (cells.ts).
 */
class RouteSeries {
  private readonly byMethod = new Map<string, Map<number, Series>>();
  constructor(
    private readonly metrics: Metrics,
    private readonly route: string,
  ) {}

  of(method: string, status: number): Series {
    let byStatus = this.byMethod.get(method);
    if (!byStatus) this.byMethod.set(method, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (!series) {
      const labels = { method, route: this.route, status: String(status) };
      series = { count: this.metrics.httpRequests.cell(labels), duration: this.metrics.httpDuration.cell(labels) };
      byStatus.set(status, series);
    }
    return series;
  }
}

const SERIES = Symbol("metrics series");
const REFUSALS: Record<string, string> = { rate_limit_exceeded: "api_key", too_many_failed_authentications: "failed_authentications" };

/**
 * Counts every answer by method, route pattern (never the raw URL: ids would
 * make a series per resource) and status, with its duration; requests no
 * route matched share the route label "unmatched". Call before any route is
 * declared.
 */
export function useHttpMetrics(app: FastifyInstance, metrics: Metrics): void {
  const unmatched = new RouteSeries(metrics, "unmatched");
  app.addHook("onRoute", (route: RouteOptions) => {
    route.config = { ...(route.config as object), [SERIES]: new RouteSeries(metrics, route.url) } as RouteOptions["config"];
  });
  app.addHook("onResponse", (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const slot = (request.routeOptions.config as { [SERIES]?: RouteSeries } | undefined)?.[SERIES];
    // The not-found handler's requests carry no route of ours.
    const series = (request.is404 || !slot ? unmatched : slot).of(request.method, reply.statusCode);
    series.count.inc();
    series.duration.observe(reply.elapsedTime / 1000);
    done();
  });
  app.addHook("onError", (_request, _reply, error, done) => {
    const reason = REFUSALS[(error as { code?: string }).code ?? ""];
    if (reason) metrics.rateLimited.inc({ reason });
    done();
  });
}
