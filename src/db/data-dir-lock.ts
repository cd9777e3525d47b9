import fs from "node:fs";
import path from "node:path";

/**
 * The embedded database is one process's: a second server (or a CLI command
 * that opens the database) on the same data dir would corrupt it. A pid file
 * claims the dir; a stale claim from a dead process is taken over.
 */
export function lockDataDir(dataDir: string): () => void {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, "patchbay.pid");
  try {
    fs.writeFileSync(file, String(process.pid), { flag: "wx" });
  } catch {
    const holder = Number(fs.readFileSync(file, "utf8").trim());
    if (holder && holder !== process.pid && isAlive(holder)) {
      throw new Error(
        `The embedded database in ${dataDir} is in use by process ${holder}. ` +
          "Stop that process, or point PATCHBAY_DATA_DIR elsewhere, or set DATABASE_URL to share a PostgreSQL between processes.",
      );
    }
    fs.writeFileSync(file, String(process.pid));
  }
  return () => {
    try {
      if (fs.readFileSync(file, "utf8").trim() === String(process.pid)) fs.unlinkSync(file);
    } catch {
      // already gone
    }
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
