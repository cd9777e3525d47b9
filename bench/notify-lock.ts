/**
 * Issue 16: what the change feed's NOTIFY costs concurrent writers. Commits a
 * second of connector UPDATEs through the real triggers (migrations 0031,
 * 0044), on 10 connections (Patchbay's pool size): announced inside the
 * transaction (any session without patchbay.announce_after_commit) against
 * announced behind the COMMIT in the same message (Patchbay's connections).
 * Inside, each commit holds PostgreSQL's one notify lock through its WAL flush.
 *
 *   node --import tsx bench/notify-lock.ts [commits-per-connection=200]
 *
 * Needs PostgreSQL at 127.0.0.1:5432 (as the tests do); makes and drops its own database.
 */
import pg from "pg";
import { createTestDatabase } from "../test/helpers/databases.ts";
const database = await createTestDatabase("postgres");
const url = database.url!;
const setup = new pg.Client({ connectionString: url }); await setup.connect();
await setup.query("insert into entities (id, name, created_at) select ('01a23200-0000-7000-9000-' || lpad(g::text, 12, '0'))::uuid, 'E', now() from generate_series(1, 10) g");
await setup.query(`insert into connectors (id, entity_id, connector_type, display_name, mode, is_active, config, created_at, updated_at)
  select ('01a23200-0000-7000-a000-' || lpad(g::text, 12, '0'))::uuid, ('01a23200-0000-7000-9000-' || lpad(g::text, 12, '0'))::uuid, 'stripe', 'C', 'live', true, '{}', now(), now() from generate_series(1, 10) g`);
const listener = new pg.Client({ connectionString: url }); await listener.connect(); await listener.query("listen patchbay_changes"); let heard = 0; listener.on("notification", () => heard++);
const C = 10, N = Number(process.argv[2] ?? 200);
async function run(label: string, flag: boolean) {
  const clients = await Promise.all(Array.from({ length: C }, async () => { const c = new pg.Client({ connectionString: url }); await c.connect(); if (flag) await c.query("set patchbay.announce_after_commit = on"); return c; }));
  heard = 0;
  const t0 = performance.now();
  await Promise.all(clients.map(async (c, k) => {
    const id = `01a23200-0000-7000-a000-${String(k + 1).padStart(12, "0")}`;
    for (let i = 0; i < N; i++) await c.query(`begin; update connectors set display_name = 'C${i}', updated_at = now() where id = '${id}'; commit${flag ? "; select patchbay_announce_changes()" : ""}`);
  }));
  const ms = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 300));
  console.log(label.padEnd(34), `${((C * N) / (ms / 1000)).toFixed(0)} commits/s, ${(ms / N).toFixed(2)} ms per commit per connection, ${heard} of ${C * N} announced`);
  for (const c of clients) await c.end();
}
for (let r = 0; r < 2; r++) { await run("NOTIFY inside the transaction", false); await run("announced behind the COMMIT", true); }
await listener.end(); await setup.end(); await database.close();
