import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The forward-only migrations beside this file, in the order they apply (read by the migrator and the embedded image's key). */
export const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "migrations");

export function migrationFiles(): string[] {
  return fs
    .readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{4}_.+\.sql$/.test(f))
    .sort();
}
