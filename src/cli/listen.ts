// `patchbay listen --forward-to URL`: the entity's events, forwarded signed to a local app, as `stripe listen` does.
//
// Built on the webhook endpoint machinery, not beside it: the command opens a receiver on 127.0.0.1, registers
// it as a temporary webhook endpoint of the key's entity (POST /v1/webhook_endpoints), prints that endpoint's
// signing secret, and relays every delivery to --forward-to with its body and Arcus-Signature unchanged, so the
// app verifies exactly what it will verify in production. The app's status goes back to Patchbay as the
// delivery's answer (a 500 there is retried by Patchbay's schedule, as for any endpoint). Stopping (Ctrl-C,
// SIGTERM) deletes the endpoint. The server must be able to reach the receiver: on one machine, with
// PATCHBAY_WEBHOOK_ALLOW_PRIVATE=true on the server; otherwise --public-url names a tunnel to it.
import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { CommandContext } from "./context.ts";
import { CliError } from "./output.ts";
import { api, entityClient } from "./sdk-client.ts";

/** The headers a delivery carries that the app may read; relayed as they came. */
const RELAYED = ["content-type", "arcus-signature", "patchbay-event-id", "patchbay-event-type", "patchbay-delivery-id", "user-agent"];

/** Whether `header` (t=…,v1=…) signs `body` with `secret`: the listener relays only Patchbay's own deliveries. */
export function signedBy(secret: string, header: string | undefined, body: string): boolean {
  if (!header) return false;
  const parts = header.split(",").map((p) => p.split("=", 2) as [string, string]);
  const t = parts.find(([k]) => k === "t")?.[1];
  if (!t) return false;
  const expected = Buffer.from(createHmac("sha256", secret).update(`${t}.${body}`).digest("hex"));
  return parts.some(([k, v]) => k === "v1" && v !== undefined && v.length === expected.length && timingSafeEqual(Buffer.from(v), expected));
}

function readBody(req: http.IncomingMessage, limit = 5 * 1024 * 1024): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) resolve(null);
      else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", () => resolve(null));
  });
}

export async function listenCommand(c: CommandContext): Promise<void> {
  const forwardTo = c.flags["forward-to"];
  if (typeof forwardTo !== "string" || !/^https?:\/\/[^/]/.test(forwardTo)) throw new CliError("listen needs --forward-to URL (http or https).", "patchbay listen --forward-to http://localhost:4242/webhook", 2);
  const events = (typeof c.flags.events === "string" ? c.flags.events : "*").split(",").map((e) => e.trim()).filter(Boolean);
  const port = typeof c.flags.port === "string" ? Number(c.flags.port) : 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError("--port needs a port number (0: any free one).", undefined, 2);
  const pb = entityClient(c);
  const base = c.serverUrl ?? c.config.serverUrl;
  let secret = "";
  const line = (value: Record<string, unknown>, human: string) => process.stdout.write(c.out.json ? `${JSON.stringify(value)}\n` : `${human}\n`);

  const receiver = http.createServer(async (req, res) => {
    const body = await readBody(req);
    // Until the endpoint (and its secret) exists nothing is relayed: an empty key would sign anything.
    if (secret === "" || req.method !== "POST" || body === null || !signedBy(secret, req.headers["arcus-signature"] as string | undefined, body)) {
      res.writeHead(400, { "content-type": "text/plain" }).end("not a signed Patchbay delivery\n");
      return;
    }
    const headers = Object.fromEntries(RELAYED.flatMap((h) => (typeof req.headers[h] === "string" ? [[h, req.headers[h] as string]] : [])));
    const type = headers["patchbay-event-type"] ?? "event";
    const started = performance.now();
    let status: number;
    let error: string | undefined;
    try {
      const answer = await fetch(forwardTo, { method: "POST", headers, body, signal: AbortSignal.timeout(10_000) });
      status = answer.status;
      await answer.arrayBuffer().catch(() => undefined);
    } catch (err) {
      status = 502;
      error = (err as Error).name === "TimeoutError" ? "timed out after 10 s" : `unreachable (${(err as Error).message})`;
    }
    const ms = Math.round(performance.now() - started);
    const at = new Date().toISOString().slice(11, 19);
    line(
      { event_id: headers["patchbay-event-id"], type, delivery_id: headers["patchbay-delivery-id"], forwarded_to: forwardTo, status, latency_ms: ms, ...(error ? { error } : {}) },
      `${at}  --> ${type} [${headers["patchbay-event-id"] ?? "?"}]\n${at}  <-- [${status}] POST ${forwardTo} (${ms} ms)${error ? ` ${error}` : ""}`,
    );
    // The app's answer is the delivery's: a failure is retried on Patchbay's schedule.
    res.writeHead(status >= 200 && status < 300 ? 200 : status, { "content-type": "text/plain" }).end();
  });
  await new Promise<void>((resolve, reject) => {
    receiver.once("error", reject);
    receiver.listen(port, "127.0.0.1", () => resolve());
  });
  const listenerUrl = typeof c.flags["public-url"] === "string" ? c.flags["public-url"] : `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`;

  let endpointId: string;
  try {
    const created = (await api(
      () =>
        pb.webhooks.createWebhookEndpoint({
          body: { url: listenerUrl, events: events as never, description: "patchbay listen (temporary: deleted when it stops)", metadata: { created_by: "patchbay listen" } },
        }),
      base,
    )) as unknown as { id: string; secret: string; data?: { id: string; secret: string } };
    const endpoint = created.data ?? created;
    endpointId = endpoint.id;
    secret = endpoint.secret;
  } catch (err) {
    receiver.close();
    if (err instanceof CliError && /private|loopback|address|url/i.test(err.message)) {
      throw new CliError(err.message, "The server refused the listener's local address. On one machine, start the server with PATCHBAY_WEBHOOK_ALLOW_PRIVATE=true; otherwise pass --public-url (a tunnel to the listener, with --port).");
    }
    throw err;
  }

  line(
    { ready: true, endpoint_id: endpointId, secret, listening: listenerUrl, forward_to: forwardTo, events },
    `Ready! Forwarding ${events.join(", ")} events to ${forwardTo}\n` +
      `Your webhook signing secret is ${secret} (verify Arcus-Signature with it)\n` +
      `Temporary endpoint ${endpointId} → ${listenerUrl}; deleted when you stop (Ctrl-C).`,
  );

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  receiver.close();
  try {
    await api(() => pb.webhooks.deleteWebhookEndpoint({ params: { path: { id: endpointId } } }), base);
    c.out.progress(`Deleted the temporary endpoint ${endpointId}.`);
  } catch (err) {
    throw new CliError(`Could not delete the temporary endpoint ${endpointId}: ${(err as Error).message}`, `Delete it with \`patchbay webhooks delete ${endpointId}\`.`);
  }
}
