import { randomBytes } from "node:crypto";
import pg from "pg";

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(adminUrl: string, text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end();
  }
}

/** A fresh, empty database of the harness's own (patchbay_bench_…); its URL and a function that drops it. */
export async function createBenchDatabase(adminUrl: string, purpose: string): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `patchbay_bench_${purpose}_${randomBytes(4).toString("hex")}`;
  await adminQuery(adminUrl, `create database ${name}`);
  return {
    name,
    url: withDatabase(adminUrl, name),
    drop: async () => {
      await adminQuery(adminUrl, `drop database if exists ${name} with (force)`);
    },
  };
}

export async function postgresVersion(adminUrl: string): Promise<string> {
  const [row] = await adminQuery<{ server_version: string }>(adminUrl, "show server_version");
  return row?.server_version ?? "unknown";
}
