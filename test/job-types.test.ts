import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { JobName, Jobs } from "../src/queue/job-types.ts";
import { startTestApp, type TestApp } from "./helpers/app.ts";

/** Every job name of the typed map, once: a name added to JobPayloads without an entry here does not compile. */
const EVERY_JOB: Record<JobName, true> = {
  "webhook.deliver": true,
  "connector-health-check": true,
  "connector-health-checks": true,
  "shopify-refresh-token": true,
  "shopify-refresh-due-tokens": true,
  "purchases.sync": true,
  "purchases.schedule": true,
  "purchases.purge": true,
  "check-connections": true,
  "purge-expired-connectors": true,
  "purge-idempotency-keys": true,
  "purge-auth-failures": true,
  "purge-provider-calls": true,
  "purge-request-logs": true,
};

/** Never called: it exists so that `npm run typecheck` proves the queue's typed face refuses what it must. */
export function compileTimeChecks(jobs: Jobs, executor: Parameters<Jobs["enqueue"]>[0]): void {
  void jobs.enqueue(executor, "webhook.deliver", { delivery_id: "d" });
  void jobs.enqueue(executor, "purchases.sync", { connection_id: "c" }, { singletonKey: "k" });
  // @ts-expect-error a misspelt job name does not compile
  void jobs.enqueue(executor, "webhook.delivr", { delivery_id: "d" });
  // @ts-expect-error another job's payload does not compile
  void jobs.enqueue(executor, "webhook.deliver", { connection_id: "c" });
  // @ts-expect-error a recurring job takes no payload
  void jobs.enqueue(executor, "purge-auth-failures", { now: 1 });
  // @ts-expect-error a handler sees its own payload's fields, no others
  jobs.register("connector-health-check", { handler: async (p) => void p.connection_id });
}

describe("the job map", () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp("pglite");
  });
  after(() => t.close());

  it("the composition root registers exactly the jobs of the typed map, each once", () => {
    assert.deepEqual([...t.services.jobs.names()].sort(), Object.keys(EVERY_JOB).sort());
  });
});
