import fs from "node:fs";
import type { FastifyPluginAsync, FastifyReply } from "fastify";

/**
 * The web console: three static files (HTML, one script, one stylesheet)
 * that call the public /v1/integrations API with the key the user enters.
 * The console has no route of its own that reads or writes data, so every
 * rule, scope and secret guarantee of the API holds for it unchanged.
 */
const ASSETS = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "console.css": "text/css; charset=utf-8",
} as const;

type AssetName = keyof typeof ASSETS;

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

export const consoleRoutes: FastifyPluginAsync = async (app) => {
  const files = new Map<AssetName, Buffer>();
  for (const name of Object.keys(ASSETS) as AssetName[]) {
    files.set(name, fs.readFileSync(new URL(`./assets/${name}`, import.meta.url)));
  }

  const send = (reply: FastifyReply, name: AssetName) =>
    reply
      .header("content-type", ASSETS[name])
      .header("content-security-policy", CSP)
      .header("x-content-type-options", "nosniff")
      .header("x-frame-options", "DENY")
      .header("referrer-policy", "no-referrer")
      .header("cache-control", name === "index.html" ? "no-store" : "no-cache")
      .send(files.get(name));

  const hide = { schema: { hide: true } };
  app.get("/", hide, async (_request, reply) => reply.redirect("/console", 302));
  app.get("/console", hide, async (_request, reply) => send(reply, "index.html"));
  app.get("/console/", hide, async (_request, reply) => reply.redirect("/console", 301));
  app.get("/console/app.js", hide, async (_request, reply) => send(reply, "app.js"));
  app.get("/console/console.css", hide, async (_request, reply) => send(reply, "console.css"));
};
