/**
 * The bare baselines Patchbay is measured against, in their own process:
 * Fastify with no plugins, no logger, no schemas, and a plain `pg` pool of
 * the same size as Patchbay's. Started by bench/run.ts, never by the product.
 */
import { randomUUID } from "node:crypto";
import Fastify from "fastify";
import pg from "pg";

const databaseUrl = process.env.BENCH_DATABASE_URL;
if (!databaseUrl) throw new Error("BENCH_DATABASE_URL is required");
const pool = new pg.Pool({ connectionString: databaseUrl, max: Number(process.env.BENCH_POOL_SIZE ?? 10) });
pool.on("error", () => {});

const app = Fastify();

app.get("/healthz", async () => ({ status: "ok" }));

app.get("/constant", async () => ({ object: "constant", ok: true, answer: 42 }));

/** One primary-key probe on the same connectors table Patchbay reads. */
app.get<{ Params: { id: string } }>("/connectors/:id", async (request, reply) => {
  const { rows } = await pool.query("select * from connectors where id = $1", [request.params.id]);
  if (rows.length === 0) return reply.status(404).send({ error: "not found" });
  return { data: rows[0] };
});

/** One INSERT per request into a scratch table the harness made (what an idempotency record costs at least). */
app.post("/inserts", async (request, reply) => {
  await pool.query("insert into bench_inserts (id, request_key, body, created_at) values ($1, $2, $3, now())", [
    randomUUID(),
    request.headers["idempotency-key"] ?? null,
    JSON.stringify(request.body),
  ]);
  return reply.status(201).send({ ok: true });
});

const stop = async () => {
  await app.close();
  await pool.end();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());

await app.listen({ host: process.env.HOST ?? "127.0.0.1", port: Number(process.env.PORT ?? 0) });
