import { createHash } from "node:crypto";
import { CompiledQuery } from "kysely";
import type { Database } from "../src/db/index.ts";
import type { Actor } from "./dataset.ts";

/**
 * EXPLAIN ANALYZE of the queries the measured requests run, built the way the
 * services build them, so the results show which index answers each one.
 */
export async function explainRequestQueries(db: Database, actor: Actor): Promise<Record<string, string>> {
  const queries = {
    "authenticate (api_keys by key_hash)": db
      .selectFrom("api_keys")
      .selectAll()
      .where("key_hash", "=", createHash("sha256").update(actor.key).digest())
      .where("revoked_at", "is", null),
    "GET /v1/integrations/{type}": db.selectFrom("connectors").selectAll().where("entity_id", "=", actor.entityId).where("connector_type", "=", actor.type),
    "GET /v1/integrations?limit=100": listQuery(db, actor.entityId),
  };
  const out: Record<string, string> = {};
  for (const [name, q] of Object.entries(queries)) out[name] = await explain(db, q.compile());
  return out;
}

function listQuery(db: Database, entityId: string) {
  return db.selectFrom("connectors").selectAll().where("entity_id", "=", entityId).orderBy("id", "desc").limit(101);
}

export async function explainList(db: Database, entityId: string): Promise<string> {
  return explain(db, listQuery(db, entityId).compile());
}

async function explain(db: Database, q: CompiledQuery): Promise<string> {
  const res = await db.executeQuery<{ "QUERY PLAN": string }>(
    CompiledQuery.raw(`explain (analyze, buffers, costs off, timing off, summary off) ${q.sql}`, [...q.parameters]),
  );
  return res.rows.map((r) => r["QUERY PLAN"]).join("\n");
}

/** The plan's first scan node: which index (or a sequential scan) answered the query. */
export function planSummary(plan: string): string {
  const lines = plan.split("\n").map((l) => l.trim().replace(/^->\s*/, ""));
  return lines.find((l) => / Scan /.test(` ${l}`)) ?? lines[0] ?? "";
}
