import { createHash } from "node:crypto";
import Fastify, { type FastifyInstance } from "fastify";

/**
 * The demo retailer gateway: a stand-in for a real one, speaking the retailer
 * gateway protocol of src/providers/retailers.ts (README "The retailer gateway
 * protocol"), so that linking and purchases work on a fresh machine. It is
 * mounted inside Patchbay when PATCHBAY_DEMO_RETAILER_GATEWAY is on, and runs
 * on its own with `npx patchbay demo-gateway`. It knows no real retailer.
 *
 * Test logins (every retailer):
 *   alice@example.com       / demo-password   accepted, with a purchase history
 *   reauth@example.com      / demo-password   accepted once; every purchases call then answers 401
 *                                            (the retailer wants the customer to sign in again)
 *   unavailable@example.com / demo-password   accepted; every purchases call answers 503
 *   any other login                           refused (401)
 *
 * The purchase history is generated from the retailer and username: one
 * purchase every 3 days over the last 90 days (so a new one appears every 3
 * days), 1–4 items from a small catalog, 8.25 % tax. The same inputs and
 * clock give the same purchases, ids included.
 */

export const DEMO_PASSWORD = "demo-password";
export const DEMO_LOGINS = {
  good: "alice@example.com",
  reauth: "reauth@example.com",
  unavailable: "unavailable@example.com",
} as const;

const PERIOD_MS = 3 * 86_400_000;
const HISTORY_PURCHASES = 30;
const MAX_PAGE = 100;
const TAX_RATE_BP = 825;

const CATALOG = [
  { product_id: "01J51S0JYV6N7K1030CV1ZKSCB", name: "Diet Coke 12pk", description: "Diet Coke - 12pk/12oz cans", upc: "049000028911", brand: "diet-coke", cents: 849 },
  { product_id: "01J51S0JYV6N7K1030CV1ZKSD0", name: "Cheerios", description: "Cheerios cereal, 18oz box", upc: "016000124790", brand: "cheerios", cents: 499 },
  { product_id: "01J51S0JYV6N7K1030CV1ZKSD1", name: "Heinz Ketchup", description: "Heinz tomato ketchup, 32oz", upc: "013000001243", brand: "heinz", cents: 379 },
  { product_id: "01J51S0JYV6N7K1030CV1ZKSD2", name: "Jif Peanut Butter", description: "Jif creamy peanut butter, 16oz", upc: "051500255162", brand: "jif", cents: 329 },
  { product_id: "01J51S0JYV6N7K1030CV1ZKSD3", name: "Goya Black Beans", description: "Goya black beans, 15.5oz can", upc: "041331027878", brand: "goya", cents: 139 },
  { product_id: "01J51S0JYV6N7K1030CV1ZKSD4", name: "Yogi Ginger Tea", description: "Yogi ginger tea, 16 bags", upc: "076950450363", brand: "yogi-tea", cents: 549 },
  { product_id: "01J51S0JYV6N7K1030CV1ZKSD5", name: "M&M's Peanut", description: "M&M's peanut chocolate candies, 10oz", upc: "040000476528", brand: "m&ms", cents: 479 },
  { product_id: "01J51S0JYV6N7K1030CV1ZKSD6", name: "Coca-Cola 2L", description: "Coca-Cola classic, 2 liter bottle", upc: "049000050103", brand: "coca-cola", cents: 279 },
] as const;

export interface DemoPurchase {
  id: string;
  date: string;
  subtotal: string;
  tax: string;
  total: string;
  items: Array<{ price: string; quantity: number; product: { product_id: string; name: string; description: string; upc: string; brand: string } }>;
}

function seed(...parts: (string | number)[]): Buffer {
  return createHash("sha256").update(parts.join("|")).digest();
}

function money(cents: number): string {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;
}

/** The purchase number `k` of this login: made at k × 3 days plus a per-login offset. */
function purchaseAt(slug: string, username: string, k: number): DemoPurchase {
  const offsetMs = (seed(slug, username).readUInt32BE(0) % (PERIOD_MS / 60_000)) * 60_000;
  const bytes = seed(slug, username, k);
  const count = 1 + (bytes[0]! % 4);
  const items = Array.from({ length: count }, (_, i) => {
    const product = CATALOG[bytes[1 + i]! % CATALOG.length]!;
    const quantity = 1 + (bytes[6 + i]! % 3);
    const { cents, ...rest } = product;
    return { price: money(cents * quantity), quantity, product: rest, cents: cents * quantity };
  });
  const subtotal = items.reduce((sum, i) => sum + i.cents, 0);
  const tax = Math.round((subtotal * TAX_RATE_BP) / 10_000);
  return {
    id: `${slug}-${bytes.subarray(10, 16).toString("hex")}-${k}`,
    date: new Date(k * PERIOD_MS + offsetMs).toISOString().replace(".000Z", "Z"),
    subtotal: money(subtotal),
    tax: money(tax),
    total: money(subtotal + tax),
    items: items.map(({ cents: _cents, ...item }) => item),
  };
}

/** The purchases made after `cursor` (a purchase number), oldest first, at most `limit`; the history starts 90 days back. */
export function demoPurchasesSince(slug: string, username: string, cursor: string | null, limit: number, now: Date) {
  const offsetMs = (seed(slug, username).readUInt32BE(0) % (PERIOD_MS / 60_000)) * 60_000;
  const latest = Math.floor((now.getTime() - offsetMs) / PERIOD_MS);
  const first = Math.max(latest - HISTORY_PURCHASES + 1, cursor === null ? -Infinity : Number(cursor) + 1);
  const purchases: DemoPurchase[] = [];
  for (let k = first; k <= latest && purchases.length < limit; k++) purchases.push(purchaseAt(slug, username, k));
  const last = purchases.length > 0 ? Number(purchases.at(-1)!.id.split("-").at(-1)) : cursor === null ? latest : Number(cursor);
  return { purchases, next_cursor: String(last), has_more: last < latest };
}

interface LoginBody {
  username?: unknown;
  password?: unknown;
  cursor?: unknown;
  limit?: unknown;
}

function loginOf(body: unknown): { username: string; accepted: boolean } {
  const b = (body ?? {}) as LoginBody;
  const username = typeof b.username === "string" ? b.username.trim().toLowerCase() : "";
  const accepted = typeof b.password === "string" && b.password === DEMO_PASSWORD && Object.values(DEMO_LOGINS).includes(username as never);
  return { username, accepted };
}

const REFUSED = { message: "The username or password is incorrect." };

/** The gateway's routes, as a Fastify plugin (mounted under a prefix, or at the root of its own server). */
export function demoRetailerGatewayRoutes({ now = () => new Date() }: { now?: () => Date } = {}) {
  return async function routes(app: FastifyInstance) {
    app.post<{ Params: { slug: string } }>("/retailers/:slug/login-checks", { schema: { hide: true } }, async (request, reply) => {
      const { accepted } = loginOf(request.body);
      return accepted ? reply.status(200).send({ ok: true }) : reply.status(401).send(REFUSED);
    });

    app.post<{ Params: { slug: string } }>("/retailers/:slug/purchases", { schema: { hide: true } }, async (request, reply) => {
      const { username, accepted } = loginOf(request.body);
      if (!accepted) return reply.status(401).send(REFUSED);
      if (username === DEMO_LOGINS.reauth) return reply.status(401).send({ message: "Please sign in again." });
      if (username === DEMO_LOGINS.unavailable) return reply.status(503).send({ message: "Try again later." });
      const b = request.body as LoginBody;
      const cursor = typeof b.cursor === "string" && /^-?\d{1,12}$/.test(b.cursor) ? b.cursor : null;
      const limit = typeof b.limit === "number" && Number.isInteger(b.limit) && b.limit >= 1 ? Math.min(b.limit, MAX_PAGE) : 50;
      return demoPurchasesSince(request.params.slug, username, cursor, limit, now());
    });
  };
}

const INBOX_SIZE = 100;

/**
 * The demo's webhook inbox and landing page, mounted beside the gateway in the
 * demo mode only: POST /demo/webhook-inbox keeps the last 100 webhooks it was
 * sent (in this process's memory: it is a demo), GET lists them newest first;
 * GET /demo/linked is where the walk-through's link page sends the customer.
 */
export function demoInboxRoutes() {
  const received: Array<{ received_at: string; headers: Record<string, string>; body: unknown }> = [];
  return async function routes(app: FastifyInstance) {
    app.post("/webhook-inbox", { schema: { hide: true } }, async (request, reply) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(request.headers)) if (/^(x-subtotal-|patchbay-|content-type)/.test(k) && typeof v === "string") headers[k] = v;
      received.unshift({ received_at: new Date().toISOString(), headers, body: request.body });
      received.length = Math.min(received.length, INBOX_SIZE);
      return reply.status(204).send();
    });
    app.get("/webhook-inbox", { schema: { hide: true } }, async () => ({ webhooks: received }));
    app.get("/linked", { schema: { hide: true } }, async (request, reply) => {
      const { connection_id } = request.query as { connection_id?: string };
      return reply.type("text/plain; charset=utf-8").send(`Linked: connection ${String(connection_id ?? "?").slice(0, 26)}\n`);
    });
  };
}

/** `npx patchbay demo-gateway`: the gateway as its own server. */
export async function startDemoRetailerGateway({ host = "127.0.0.1", port = 4010, now }: { host?: string; port?: number; now?: () => Date } = {}) {
  const app = Fastify({ logger: false });
  await app.register(demoRetailerGatewayRoutes({ now }));
  await app.listen({ host, port });
  const address = app.server.address();
  const bound = typeof address === "object" && address ? address.port : port;
  return { app, url: `http://${host}:${bound}`, close: () => app.close() };
}
