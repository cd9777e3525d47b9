import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ConfigError, parseMasterKeys, type Config } from "../config.ts";
import { randomBase62 } from "../kernel/ids.ts";
import { KeyRing } from "./envelope.ts";

/** Where embedded mode keeps the master key it generated for itself. */
export const MASTER_KEY_FILE = "master-key";

/** A new master key entry, `id:base64key`, for PATCHBAY_MASTER_KEYS. */
export function generateMasterKey(now: Date = new Date()): string {
  const day = now.toISOString().slice(0, 10).replace(/-/g, "");
  return `mk-${day}-${randomBase62(6)}:${randomBytes(32).toString("base64")}`;
}

export interface ResolvedKeyRing {
  ring: KeyRing;
  /** Set when this start generated the key file: the caller logs a warning. */
  generatedFile: string | null;
  /** Set when the ring came from the key file in the data dir. */
  file: string | null;
}

/**
 * The master key ring for this process: PATCHBAY_MASTER_KEYS if set;
 * otherwise, in embedded mode, the key file in the data dir (generated on the
 * first start, mode 0600). PostgreSQL without PATCHBAY_MASTER_KEYS refuses to
 * start: processes sharing a database must share their keys, and a key that
 * exists on one machine only would make the others' secrets unreadable.
 */
export function resolveKeyRing(config: Pick<Config, "masterKeys" | "databaseUrl" | "dataDir">): ResolvedKeyRing {
  if (config.masterKeys) return { ring: new KeyRing(config.masterKeys), generatedFile: null, file: null };
  if (config.databaseUrl) {
    throw new ConfigError(
      "PATCHBAY_MASTER_KEYS",
      "is required with DATABASE_URL (PostgreSQL): every process sharing the database must seal and open secrets with the same keys. " +
        "Make one with `npx patchbay master-key new`, then set PATCHBAY_MASTER_KEYS=<id>:<key> for every Patchbay process.",
    );
  }
  const file = path.join(config.dataDir, MASTER_KEY_FILE);
  let generatedFile: string | null = null;
  if (!fs.existsSync(file)) {
    fs.mkdirSync(config.dataDir, { recursive: true });
    try {
      fs.writeFileSync(file, `${generateMasterKey()}\n`, { mode: 0o600, flag: "wx" });
      generatedFile = file;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  const ring = parseMasterKeys(fs.readFileSync(file, "utf8").trim(), file);
  return { ring: new KeyRing(ring), generatedFile, file };
}
