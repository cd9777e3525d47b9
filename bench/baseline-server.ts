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

/**
 * The floor of what a PATCH with a fresh Idempotency-Key must write under
 * Patchbay's contract (SPEC: the row, its event, its audit entry and the
 * stored answer commit together): the same four writes to the same tables,
 * as one statement in one round trip and one commit, with nothing checked,
 * validated, fanned out or announced. A fresh key's duplicate fails on the
 * primary key and rolls the whole statement back, so even this is safe
 * against a concurrent retry; it cannot replay an answer.
 */
const SAME_WRITES = `with u as (
    update connectors set display_name = $2, config = config || $3::jsonb, updated_at = now() where id = $1 returning *
  ), e as (
    insert into events (id, entity_id, type, data, created_at)
    select $4::uuid, entity_id, 'connector.updated', jsonb_build_object('object', 'event', 'type', 'connector.updated', 'data', jsonb_build_object('object', to_jsonb(u))), now() from u
  ), a as (
    insert into audit_events (id, entity_id, actor_type, actor_id, action, target_type, target_id, request_id, changes, created_at)
    select $5::uuid, entity_id, 'api_key', null, 'connector.updated', 'connector', id::text, null, jsonb_build_object('display_name', display_name, 'config', config), now() from u
  ), k as (
    insert into idempotency_keys (scope, key, fingerprint, state, response_status, response_headers, response_body, created_at, expires_at)
    select 'bench:' || entity_id::text, $6, '\\x00'::bytea, 'done', 200, '{}'::jsonb, convert_to(to_jsonb(u)::text, 'UTF8'), now(), now() + interval '1 day' from u
  )
  select * from u`;
app.patch<{ Params: { id: string }; Body: { display_name?: string; config?: Record<string, unknown> } }>("/connectors/:id", async (request, reply) => {
  const key = request.headers["idempotency-key"];
  if (typeof key !== "string") return reply.status(400).send({ error: "Idempotency-Key is required" });
  const { rows } = await pool.query(SAME_WRITES, [request.params.id, request.body.display_name ?? null, JSON.stringify(request.body.config ?? {}), randomUUID(), randomUUID(), key]);
  if (rows.length === 0) return reply.status(404).send({ error: "not found" });
  return { data: rows[0] };
});

const stop = async () => {
  await app.close();
  await pool.end();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());

await app.listen({ host: process.env.HOST ?? "127.0.0.1", port: Number(process.env.PORT ?? 0) });
