import { randomUUID } from "node:crypto";
import type { Request } from "autocannon";
import type { Actor, Dataset } from "./dataset.ts";

/** One measured workload: what each connection sends, and which bare baseline it is compared with. */
export interface Scenario {
  id: string;
  label: string;
  baseline?: string;
  requestsFor: (i: number) => Request[];
}

const auth = (a: Actor) => ({ authorization: `Bearer ${a.key}` });
const json = { "content-type": "application/json" };

let counter = 0;
/** A PATCH body that really changes the row (so every request runs the UPDATE), sized like a real one. */
function changingPatchBody(): string {
  counter = (counter + 1) % 1_000_000;
  return JSON.stringify({ display_name: `Stripe ${counter}`, config: { statement_descriptor: `ACME ${counter}` } });
}
const REPLAYED_BODY = JSON.stringify({ display_name: "Stripe replayed", config: { statement_descriptor: "ACME REPLAYED" } });

/** Patchbay's scenarios (issue point 1), identical on both databases. */
export function patchbayScenarios(d: Dataset): Scenario[] {
  return [
    {
      id: "get",
      label: "GET /v1/integrations/{type}",
      baseline: "select",
      requestsFor: (i) => [{ method: "GET", path: `/v1/integrations/${d.readers[i]!.type}`, headers: auth(d.readers[i]!) }],
    },
    {
      id: "list",
      label: "GET /v1/integrations?limit=100",
      baseline: "select",
      requestsFor: (i) => [{ method: "GET", path: "/v1/integrations?limit=100", headers: auth(d.readers[i]!) }],
    },
    {
      id: "patch-fresh",
      label: "PATCH, fresh Idempotency-Key each",
      baseline: "insert",
      requestsFor: (i) => [
        {
          method: "PATCH",
          path: "/v1/integrations/stripe",
          headers: { ...auth(d.patchers[i]!), ...json },
          setupRequest: (req) => ({ ...req, headers: { ...req.headers, "idempotency-key": randomUUID() }, body: changingPatchBody() }),
        },
      ],
    },
    {
      id: "patch-replay",
      label: "PATCH replayed, one Idempotency-Key",
      baseline: "insert",
      requestsFor: (i) => [
        {
          method: "PATCH",
          path: "/v1/integrations/stripe",
          headers: { ...auth(d.replayers[i]!), ...json, "idempotency-key": `bench-replay-${i}` },
          body: REPLAYED_BODY,
        },
      ],
    },
    {
      // Issue 15: a small JSON GET through the stripe connector to the loopback fake (bench/proxy-servers.ts).
      id: "proxy",
      label: "GET through the proxy (Stripe, loopback fake)",
      baseline: "proxy-forwarder",
      requestsFor: (i) => [{ method: "GET", path: `/v1/integrations/stripe/proxy${PROXIED_PATH}`, headers: auth(d.proxiers[i]!) }],
    },
    {
      // DELETE first: a DELETE of a disconnected connector answers 200 unchanged, so the
      // cycle stays all-2xx whichever phase the warm-up left a connection in.
      id: "delete-post",
      label: "DELETE + POST (restore) cycle",
      baseline: "insert",
      requestsFor: (i) => {
        const a = d.cyclers[i]!;
        return [
          { method: "DELETE", path: "/v1/integrations/stripe", headers: auth(a) },
          { method: "POST", path: "/v1/integrations/stripe", headers: { ...auth(a), ...json }, body: JSON.stringify({ config: { currency: "usd" } }) },
        ];
      },
    },
  ];
}

/** The provider path the proxy scenario and its two baselines GET. */
export const PROXIED_PATH = "/v1/balance";

/** The proxy's baselines (issue 15): the same GET straight to the fake provider, and through a bare Fastify + undici forwarder. */
export function proxyBaselineScenarios(): Scenario[] {
  return [
    { id: "proxy-direct", label: "GET straight to the fake provider", requestsFor: () => [{ method: "GET", path: PROXIED_PATH }] },
    { id: "proxy-forwarder", label: "GET through a bare Fastify + undici forwarder", requestsFor: () => [{ method: "GET", path: PROXIED_PATH }] },
  ];
}

/** The bare baselines (issue point 2), on the same PostgreSQL database and the same rows. */
export function baselineScenarios(d: Dataset): Scenario[] {
  return [
    { id: "constant", label: "constant JSON", requestsFor: () => [{ method: "GET", path: "/constant" }] },
    {
      id: "select",
      label: "pg SELECT by primary key",
      requestsFor: (i) => [{ method: "GET", path: `/connectors/${d.readers[i]!.connectorId}`, headers: auth(d.readers[i]!) }],
    },
    {
      // Same headers and body size as the fresh-key PATCH, rebuilt per request the same way.
      id: "insert",
      label: "pg INSERT",
      requestsFor: (i) => [
        {
          method: "POST",
          path: "/inserts",
          headers: { ...auth(d.patchers[i]!), ...json },
          setupRequest: (req) => ({ ...req, headers: { ...req.headers, "idempotency-key": randomUUID() }, body: changingPatchBody() }),
        },
      ],
    },
    {
      // The contract's floor for the fresh-key PATCH (baseline-server.ts, SAME_WRITES): same requests, same rows.
      id: "same-writes",
      label: "pg UPDATE + event + audit + stored answer, one statement",
      requestsFor: (i) => [
        {
          method: "PATCH",
          path: `/connectors/${d.patchers[i]!.connectorId}`,
          headers: { ...auth(d.patchers[i]!), ...json },
          setupRequest: (req) => ({ ...req, headers: { ...req.headers, "idempotency-key": randomUUID() }, body: changingPatchBody() }),
        },
      ],
    },
  ];
}

/** The list-scaling probe: one entity's list while the table around it grows. */
export function listScenario(subject: Actor): Scenario {
  return {
    id: "list-scale",
    label: "GET /v1/integrations?limit=100",
    requestsFor: () => [{ method: "GET", path: "/v1/integrations?limit=100", headers: auth(subject) }],
  };
}
