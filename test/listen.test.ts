import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import readline from "node:readline";
import { after, before, describe, it } from "node:test";
import { ensureCliBuilt } from "../scripts/build-cli.mjs";
import { ADMIN_TOKEN, startTestApp, type TestApp } from "./helpers/app.ts";
import { DB_KINDS } from "./helpers/databases.ts";
import { asKey, createTenant } from "./helpers/fixtures.ts";

const ROOT = path.resolve(import.meta.dirname, "..");

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** The developer's app: records what reaches it, answers `status`. */
async function startApp(status: () => number) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(status()).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const kind of DB_KINDS) {
  describe(`[${kind}] patchbay listen --forward-to`, () => {
    let t: TestApp;
    let env: Record<string, string>;
    before(async () => {
      await ensureCliBuilt();
      t = await startTestApp(kind, { env: { PATCHBAY_WEBHOOK_ALLOW_PRIVATE: "true", PATCHBAY_JOBS_POLL_MS: "20" } });
      await t.app.listen({ host: "127.0.0.1", port: 0 });
      t.services.jobs.start();
      env = { PATCHBAY_URL: `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`, PATCHBAY_ADMIN_TOKEN: ADMIN_TOKEN };
    });
    after(async () => {
      await t.services.jobs.stop();
      await t.close();
    });

    it("forwards the entity's events signed with the printed secret, answers with the app's status, and deletes its endpoint on Ctrl-C", async () => {
      let appStatus = 500;
      const app = await startApp(() => appStatus);
      const tenant = await createTenant(t);
      let child: ChildProcess | undefined;
      try {
        child = spawn(process.execPath, [path.join(ROOT, "bin", "patchbay.mjs"), "listen", "--forward-to", app.url, "--events", "connector.*", "--json"], {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env, PATCHBAY_API_KEY: tenant.key },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let stderr = "";
        child.stderr!.on("data", (d) => (stderr += d));
        const lines: Record<string, unknown>[] = [];
        readline.createInterface({ input: child.stdout! }).on("line", (l) => lines.push(JSON.parse(l)));
        const ready = await until(`the ready line (stderr: ${stderr})`, () => lines.find((l) => l.ready === true));
        assert.match(String(ready.secret), /^whsec_[0-9a-f]{64}$/);
        const endpoints = (await asKey(t, tenant)("GET", "/v1/webhook_endpoints")).json().data;
        assert.deepEqual(endpoints.map((e: { id: string }) => e.id), [ready.endpoint_id]);

        // The app fails first: Patchbay records a failed attempt (and would retry); then it succeeds.
        assert.equal((await asKey(t, tenant)("POST", "/v1/integrations/stripe")).statusCode, 201);
        const first = await until("the forwarded event", () => app.received[0]);
        const line = await until(`the forwarded line (${JSON.stringify(lines)}; ${stderr})`, () => lines.find((l) => l.type === "connector.connected"));
        assert.equal(line.status, 500);
        const [, ts, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(first.headers["arcus-signature"]))!;
        assert.equal(v1, createHmac("sha256", String(ready.secret)).update(`${ts}.${first.body}`).digest("hex"), "signed with the printed secret, body unchanged");
        const event = JSON.parse(first.body);
        assert.equal(event.object, "event");
        assert.equal(event.type, "connector.connected");
        assert.equal(first.headers["patchbay-event-type"], "connector.connected");
        const failed = await until("the failed attempt", async () => {
          const d = (await asKey(t, tenant)("GET", `/v1/webhook_endpoints/${ready.endpoint_id}/deliveries`)).json().data[0];
          return d?.attempts?.length ? d : undefined;
        });
        assert.equal(failed.attempts[0].status_code, 500);

        appStatus = 200;
        assert.equal((await asKey(t, tenant)("PATCH", "/v1/integrations/stripe", { display_name: "Listened" })).statusCode, 200);
        await until("the second event", () => lines.find((l) => l.type === "connector.updated" && l.status === 200));

        // A request that is not a signed Patchbay delivery is not relayed.
        const listening = String(ready.listening);
        const forged = await fetch(listening, { method: "POST", headers: { "arcus-signature": "t=1,v1=00" }, body: "{}" });
        assert.equal(forged.status, 400);

        child.kill("SIGINT");
        const code = await new Promise<number | null>((r) => child!.once("exit", (c) => r(c)));
        assert.equal(code, 0, stderr);
        assert.match(stderr, /Deleted the temporary endpoint/);
        assert.deepEqual((await asKey(t, tenant)("GET", "/v1/webhook_endpoints")).json().data, []);
        assert.ok(app.received.every((r) => !String(r.body).includes(tenant.key)));
      } finally {
        if (child && child.exitCode === null) child.kill("SIGKILL");
        await app.close();
      }
    });

    it("a missing --forward-to is a usage error (exit 2)", async () => {
      const res = await new Promise<number | null>((resolve) => {
        const c = spawn(process.execPath, [path.join(ROOT, "bin", "patchbay.mjs"), "listen"], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", ...env, PATCHBAY_API_KEY: "ark_live_ent_x" }, stdio: "ignore" });
        c.on("exit", (code) => resolve(code));
      });
      assert.equal(res, 2);
    });
  });
}
