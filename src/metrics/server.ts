import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Metrics } from "./registry.ts";

/**
 * /metrics on a port of its own (PATCHBAY_METRICS_PORT, on
 * PATCHBAY_METRICS_HOST: loopback unless set), without a token: for a
 * Prometheus on the same host or network namespace, kept off the public
 * listener. Everything else on it answers 404.
 */
export async function startMetricsServer({ metrics, host, port }: { metrics: Metrics; host: string; port: number }) {
  const server = http.createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    metrics.render().then(
      ({ contentType, body }) => res.writeHead(200, { "content-type": contentType }).end(body),
      () => res.writeHead(500, { "content-type": "text/plain" }).end("metrics unavailable\n"),
    );
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
