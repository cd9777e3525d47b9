import type { IdempotencyStore } from "../idempotency/store.ts";
import { ProviderError, type ProviderClient } from "../providers/client.ts";
import type { SendWebhook } from "../providers/webhook-sender.ts";
import type { Vault } from "../vault/vault.ts";
import type { Metrics } from "./registry.ts";

/**
 * Decorators the composition root puts around the services it wires, so the
 * counters live beside the thing counted without the services knowing about
 * Prometheus.
 */

/**
 * Each provider call as the service saw it (retries included): its connector
 * type, the final HTTP status or the failure (timeout, network), and its time.
 */
export function observeProviderCalls(client: ProviderClient, metrics: Metrics): ProviderClient {
  return {
    ...client,
    async request(provider, req) {
      const started = performance.now();
      let status = "error";
      try {
        const res = await client.request(provider, req);
        status = String(res.status);
        return res;
      } catch (err) {
        if (err instanceof ProviderError) status = err.failure;
        throw err;
      } finally {
        metrics.providerCalls.inc({ provider, status });
        metrics.providerDuration.observe({ provider }, (performance.now() - started) / 1000);
      }
    },
  };
}

/** Replays and the two 409s of the idempotency store. */
export function observeIdempotency(store: IdempotencyStore, metrics: Metrics): IdempotencyStore {
  return {
    ...store,
    async begin(...args: Parameters<IdempotencyStore["begin"]>) {
      try {
        const outcome = await store.begin(...args);
        if (outcome.kind === "replay") metrics.idempotency.inc({ outcome: "replayed" });
        return outcome;
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code === "idempotency_key_in_use") metrics.idempotency.inc({ outcome: "in_use" });
        else if (code === "idempotency_key_mismatch") metrics.idempotency.inc({ outcome: "mismatch" });
        throw err;
      }
    },
  };
}

/** Seal, open and destroy, counted per operation. */
export function observeVault(vault: Vault, metrics: Metrics): Vault {
  const seal = metrics.vaultOps.labels({ operation: "seal" });
  const open = metrics.vaultOps.labels({ operation: "open" });
  const destroy = metrics.vaultOps.labels({ operation: "destroy" });
  return {
    ...vault,
    sealSecret: (...args: Parameters<Vault["sealSecret"]>) => (seal.inc(), vault.sealSecret(...args)),
    openSecret: (<T>(...args: Parameters<Vault["openSecret"]>) => (open.inc(), vault.openSecret<T>(...args))) as Vault["openSecret"],
    destroySecret: (...args: Parameters<Vault["destroySecret"]>) => (destroy.inc(), vault.destroySecret(...args)),
    destroySecretsOf: (...args: Parameters<Vault["destroySecretsOf"]>) => (destroy.inc(), vault.destroySecretsOf(...args)),
  };
}

/** One count per webhook POST, by result, and the receiver's latency. */
export function observeWebhookSends(send: SendWebhook, metrics: Metrics): SendWebhook {
  return (async (...args: Parameters<SendWebhook>) => {
    const result = await send(...args);
    metrics.webhookAttempts.inc({ result: result.error === null ? "succeeded" : "failed" });
    metrics.webhookDuration.observe(result.latencyMs / 1000);
    return result;
  }) as SendWebhook;
}
