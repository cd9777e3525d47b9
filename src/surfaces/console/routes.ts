import fs from "node:fs";
import { setPageHeaders } from "../shared/page-headers.ts";
import path from "node:path";
import type { FastifyPluginAsync, FastifyReply } from "fastify";

/**
 * The web console: a Preact app (source in console/, built by Vite into
 * ./assets by scripts/build-console.mjs) that calls the public APIs with the
 * key or admin token the user enters. The console has no route of its own that
 * reads or writes data, so every rule, scope and secret guarantee of the API
 * holds for it unchanged. Every /console/… path that is not one of the built
 * files is a page of the app (client-side routing) and answers its index.html.
 */
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

// No inline script or style, no framing, no third-party origin: API data shown on the page cannot run.
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

interface Asset {
  type: string;
  body: Buffer;
}

function readAssets(dir: URL): Map<string, Asset> {
  const root = new URL(dir);
  if (!fs.existsSync(root)) {
    throw new Error(`The console is not built (${root.pathname} is missing): run \`node scripts/build-console.mjs\` (npm start does it).`);
  }
  const files = new Map<string, Asset>();
  for (const name of fs.readdirSync(root)) {
    const type = TYPES[path.extname(name)];
    if (type) files.set(name, { type, body: fs.readFileSync(new URL(name, root)) });
  }
  return files;
}

export const consoleRoutes: FastifyPluginAsync = async (app) => {
  const files = readAssets(new URL("./assets/", import.meta.url));
  const index = files.get("index.html");
  if (!index) throw new Error("The console build has no index.html.");

  const send = (reply: FastifyReply, asset: Asset, isPage: boolean) =>
    setPageHeaders(reply.header("content-type", asset.type), { csp: CSP, cache: isPage ? "no-store" : "no-cache" }).send(asset.body);

  const hide = { schema: { hide: true } };
  app.get("/", hide, async (_request, reply) => reply.redirect("/console", 302));
  app.get("/console", hide, async (_request, reply) => send(reply, index, true));
  app.get("/console/", hide, async (_request, reply) => reply.redirect("/console", 301));
  app.get<{ Params: { "*": string } }>("/console/*", hide, async (request, reply) => {
    const rest = request.params["*"];
    const file = files.get(rest);
    if (file && rest !== "index.html") return send(reply, file, false);
    // A missing file (anything with an extension) is a 404; any other path is a page of the app.
    if (path.extname(rest) !== "") return reply.status(404).header("content-type", "text/plain; charset=utf-8").send("Not found");
    return send(reply, index, true);
  });
};
