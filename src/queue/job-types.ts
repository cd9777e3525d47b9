import type { RawBuilder } from "kysely";
import type { Database } from "../db/index.ts";
import { insertJobsSelecting, type EnqueueOptions, type JobDefinition, type JobQueue } from "./queue.ts";

/** A recurring job's payload: it has none. */
export type NoPayload = Record<string, never>;

/**
 * Every job Patchbay runs, by name, with the payload it carries. The queue's
 * typed face (Jobs) takes only these names and checks each payload at compile
 * time; jobs/ registers one thin adapter per name.
 */
export interface JobPayloads {
  /**
   * One delivery try (services/webhook-deliveries.ts). `manual`: one extra try asked for through the API.
   * `schedule: "sendcloud"`: a shop integration's webhook, retried on the Sendcloud spec's schedule.
   */
  "webhook.deliver": { delivery_id: string; manual?: boolean; schedule?: "sendcloud" };
  "connector-health-check": { connectorId: string };
  "connector-health-checks": NoPayload;
  "shopify-refresh-token": { connectorId: string };
  "shopify-refresh-due-tokens": NoPayload;
  "purchases.sync": { connection_id: string };
  "purchases.schedule": NoPayload;
  "purchases.purge": NoPayload;
  "check-connections": NoPayload;
  "purge-expired-connectors": NoPayload;
  "purge-idempotency-keys": NoPayload;
  "purge-auth-failures": NoPayload;
  "purge-provider-calls": NoPayload;
  "purge-request-logs": NoPayload;
}

export type JobName = keyof JobPayloads & string;

/** The queue as services and jobs see it: only known names, each with its own payload type. */
export type Jobs = Omit<JobQueue, "register" | "enqueue"> & {
  register<N extends JobName>(name: N, def: JobDefinition<JobPayloads[N]>): void;
  enqueue<N extends JobName>(executor: Database, name: N, payload: JobPayloads[N], opts?: EnqueueOptions): Promise<string | null>;
};

/**
 * The tail of a caller's statement that queues one `name` job per row of
 * `from` (a CTE of the caller's), due at `runAt`: how emitEvent queues its
 * deliveries in the same single statement as the event. The queue owns the
 * shape of its table; callers hand in only the rows and each row's payload.
 */
export function insertJobsFrom<N extends JobName>(
  name: N,
  // maxAttempts: a number, or a per-row expression over `from`.
  { from, payload, runAt, maxAttempts }: { from: RawBuilder<unknown>; payload: RawBuilder<JobPayloads[N]>; runAt: Date; maxAttempts: number | RawBuilder<number> },
): RawBuilder<unknown> {
  return insertJobsSelecting(name, { from, payload, runAt, maxAttempts });
}
