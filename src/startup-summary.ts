/** What a person starting the server wants to know, in one place. */
export interface StartupFacts {
  url: string;
  database: string;
  dataDir: string | null;
  migrated: string[];
  adminToken: string;
  jobs: string[] | null;
  metrics: string | null;
}

/** The database as shown at start: the embedded data dir, or PostgreSQL's host and database, never its password. */
export function describeDatabase(databaseUrl: string | null, dataDir: string): string {
  if (databaseUrl === null) return `embedded PGlite (${dataDir}/pglite)`;
  const u = new URL(databaseUrl);
  return `PostgreSQL ${u.hostname}${u.port ? `:${u.port}` : ""}${u.pathname}`;
}

/** The summary as a block of aligned lines (pretty logs). */
export function startupSummaryText(f: StartupFacts): string {
  const rows: Array<[string, string]> = [
    ["URL", f.url],
    ["database", f.database],
    ...(f.dataDir ? [["data dir", f.dataDir] as [string, string]] : []),
    ["migrations", f.migrated.length === 0 ? "up to date" : `applied ${f.migrated.length}: ${f.migrated.join(", ")}`],
    ["admin token", f.adminToken],
    ["jobs", f.jobs === null ? "off in this process (PATCHBAY_JOBS=false)" : f.jobs.join(", ")],
    ["metrics", f.metrics ?? "off (set PATCHBAY_METRICS_TOKEN or PATCHBAY_METRICS_PORT)"],
    ["docs", `${f.url}/docs`],
  ];
  return `\nPatchbay is ready\n${rows.map(([k, v]) => `  ${k.padEnd(12)} ${v}`).join("\n")}\n\n`;
}
