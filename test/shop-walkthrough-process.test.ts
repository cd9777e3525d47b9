import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { ADMIN_TOKEN } from "./helpers/app.ts";
import { ROOT, startTestServerProcess, type ServerProcess } from "./helpers/process.ts";

const run = promisify(execFile);

interface Step {
  command: string;
  /** The status the README's comment under the command shows (`# 204 …`, `# 200 → …`), if any. */
  expected: number | null;
}

/**
 * The README's "Shop integrations" shell block, command by command: continued
 * lines (a trailing backslash) are one command; a `# NNN …` comment right
 * under a command is the status it must answer; `export` lines are the
 * reader's own setup (the test provides PUBLIC_KEY and KEY).
 */
function readmeSteps(): Step[] {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("\n## Shop integrations\n"));
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  const steps: Step[] = [];
  let pending = "";
  for (const line of block.split("\n")) {
    if (pending) {
      pending += `\n${line}`;
      if (!line.endsWith("\\")) {
        steps.push({ command: pending, expected: null });
        pending = "";
      }
      continue;
    }
    const status = /^# (\d{3})\b/.exec(line);
    if (status && steps.length > 0 && steps.at(-1)!.expected === null) {
      steps.at(-1)!.expected = Number(status[1]);
      continue;
    }
    if (line.startsWith("#") || line.trim() === "" || line.startsWith("export ")) continue;
    if (line.endsWith("\\")) pending = line;
    else steps.push({ command: line, expected: null });
  }
  return steps;
}

describe("the README's shop-integration walk-through, command by command, against a server process", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startTestServerProcess({});
  });
  after(async () => server?.stop());

  it("every command answers the status the README shows, after the Stripe example (so the Amazon integration is not id 1)", async () => {
    const steps = readmeSteps();
    assert.ok(steps.length >= 12, `found ${steps.length} commands`);
    assert.ok(!steps.some((s) => /integrations\/1\b/.test(s.command)), "no hard-coded integration id");

    const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };
    const entity = await (await fetch(`${server.url}/admin/v1/entities`, { method: "POST", headers: admin, body: JSON.stringify({ name: "Acme Inc" }) })).json();
    const keyRes = await fetch(`${server.url}/admin/v1/entities/${entity.id}/api-keys`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ name: "shop", mode: "live", scopes: ["integrations:read", "integrations:write"] }),
    });
    assert.equal(keyRes.status, 201);
    const { key, public_key } = await keyRes.json();
    // The README's first example (First five minutes) connects Stripe before anything else.
    const stripe = await fetch(`${server.url}/v1/integrations/stripe`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ display_name: "Stripe (EU)", config: { currency: "eur" } }),
    });
    assert.equal(stripe.status, 201);

    // One bash session (ID= carries over), each curl command marked and its status printed after it.
    const script = ["set -u"];
    steps.forEach((s, i) => {
      const command = s.command.replaceAll("http://127.0.0.1:8080", server.url);
      script.push(`echo "@@step ${i}"`);
      script.push(s.command.startsWith("curl ") ? `${command} -w '\\n@@status %{http_code}\\n'` : command);
    });
    const { stdout } = await run("bash", ["-c", script.join("\n")], { env: { PATH: process.env.PATH ?? "", KEY: key, PUBLIC_KEY: public_key }, maxBuffer: 10 * 1024 * 1024 });
    const outputs = stdout.split(/^@@step \d+\n/m).slice(1);
    assert.equal(outputs.length, steps.length);
    let id: number | null = null;
    steps.forEach((s, i) => {
      const out = outputs[i]!;
      const status = /@@status (\d{3})/.exec(out)?.[1];
      if (s.command.startsWith("curl ")) assert.ok(status, `step ${i} printed no status: ${s.command}`);
      if (s.expected !== null) assert.equal(Number(status), s.expected, `step ${i}: ${s.command}\n${out}`);
      if (/^curl -s -u "\$PUBLIC_KEY:\$KEY" http:\/\/127\.0\.0\.1:8080\/api\/v3\/integrations$/.test(s.command)) {
        id = JSON.parse(out.slice(0, out.indexOf("\n@@status"))).data.find((x: { type: string }) => x.type === "amazon").id;
      }
    });
    assert.ok(id !== null && id > 1, `the Amazon integration's id comes after Stripe's: ${id}`);
  });
});
