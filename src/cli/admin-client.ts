import fs from "node:fs";
import path from "node:path";
import { ADMIN_TOKEN_FILE } from "../auth/admin-token.ts";
import type { Config } from "../config.ts";
import { CliError } from "./output.ts";

/**
 * The CLI's way to the admin API of a running server. Going through HTTP
 * keeps every rule in the server's service layer, and works the same on the
 * embedded database (which only the server process may open) and PostgreSQL.
 */
export function createAdminClient(config: Config, overrides: { url?: string; token?: string }) {
  const base = (overrides.url ?? config.serverUrl).replace(/\/+$/, "");
  const token = overrides.token ?? config.adminToken ?? readTokenFile(config.dataDir);

  return async function call<T>(method: string, route: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${base}${route}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new CliError(`Cannot reach Patchbay at ${base}.`, "Start the server with `npm start` in another terminal, or point PATCHBAY_URL (or --url) at it.");
    }
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (!res.ok) {
      throw new CliError(String(parsed.error ?? `HTTP ${res.status}`), typeof parsed.hint === "string" ? parsed.hint : undefined);
    }
    return parsed as T;
  };
}

function readTokenFile(dataDir: string): string {
  const file = path.join(dataDir, ADMIN_TOKEN_FILE);
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    throw new CliError(
      `No admin token: PATCHBAY_ADMIN_TOKEN is not set and ${file} does not exist.`,
      "Start the server once (`npm start`) to generate one, or set PATCHBAY_ADMIN_TOKEN, or pass --admin-token.",
    );
  }
}

export type AdminClient = ReturnType<typeof createAdminClient>;
