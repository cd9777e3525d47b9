import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export interface AdminTokenVerifier {
  verify(presented: string): boolean;
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/** Constant-time comparison of digests, so neither length nor prefix leaks. */
export function adminTokenVerifier(token: string): AdminTokenVerifier {
  const expected = digest(token);
  return { verify: (presented) => timingSafeEqual(digest(presented), expected) };
}

export const ADMIN_TOKEN_FILE = "admin-token";

/**
 * The configured admin token, or the one stored in the data dir, or a new one
 * written there (0600). `created` tells the caller to print it once.
 */
export function resolveAdminToken(configured: string | null, dataDir: string): { token: string; created: boolean; file: string | null } {
  if (configured) return { token: configured, created: false, file: null };
  const file = path.join(dataDir, ADMIN_TOKEN_FILE);
  if (fs.existsSync(file)) return { token: fs.readFileSync(file, "utf8").trim(), created: false, file };
  fs.mkdirSync(dataDir, { recursive: true });
  const token = `pb_admin_${randomBytes(24).toString("base64url")}`;
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600, flag: "wx" });
  return { token, created: true, file };
}
