import http from "node:http";
import Fastify from "fastify";
import { Agent } from "undici";

/**
 * The proxy bench's two bare servers, one per process: BENCH_ROLE=fake is the
 * loopback provider (a small JSON answer), BENCH_ROLE=forwarder is a bare
 * Fastify + undici forwarder to it (the ceiling of a Node proxy).
 */
const port = Number(process.env.PORT);
if (process.env.BENCH_ROLE === "fake") {
  const body = JSON.stringify({ object: "balance", available: [{ amount: 1000, currency: "usd" }], livemode: false });
  http
    .createServer((req, res) => {
      if (req.url === "/healthz") return res.end("ok");
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    })
    .listen(port, "127.0.0.1");
} else {
  const target = new URL(process.env.BENCH_TARGET!);
  const agent = new Agent({ connections: 256 });
  const app = Fastify();
  app.get("/healthz", async () => "ok");
  app.get("/*", async (request, reply) => {
    const res = await agent.request({ origin: target.origin, path: request.url, method: "GET", headers: { authorization: "Bearer sk_test_bench" } });
    return reply.status(res.statusCode).headers(res.headers as Record<string, string>).send(res.body);
  });
  await app.listen({ port, host: "127.0.0.1" });
}
