import { SENDCLOUD_SIGNATURE_SCHEME, SHOP_INTEGRATION_WEBHOOKS } from "./shop-integrations/webhook-docs.ts";

/**
 * Last touches to the whole OpenAPI document (@fastify/swagger's
 * transformObject), for what fastify-swagger cannot say per route:
 * - a query or header parameter with a default may be left out (it marks it
 *   required, since TypeBox's property is not Optional), so a generated
 *   client (the SDK) does not insist on it;
 * - the proxy's catch-all `*` becomes a named path parameter `{path}` (a
 *   template name tools accept) whose 2XX answer is the provider's own.
 */
type Parameter = { in?: string; name?: string; required?: boolean; schema?: { default?: unknown } };
type Operation = { parameters?: Parameter[]; responses?: Record<string, unknown> };
type Document = { paths?: Record<string, Record<string, Operation>>; webhooks?: Record<string, unknown>; components?: { securitySchemes?: Record<string, unknown> } };

const PROVIDER_ANSWER = {
  description: "The provider's answer, as it came (status, headers less hop-by-hop ones, body), with x-request-id added",
  content: { "*/*": { schema: {} } },
};

export function finishOpenApiDocument<T>(document: T): T {
  const paths = (document as Document).paths ?? {};
  for (const [route, item] of Object.entries(paths)) {
    const wildcard = route.endsWith("/{*}");
    for (const op of Object.values(item)) {
      for (const p of op?.parameters ?? []) {
        if (p.in !== "path" && p.required && p.schema && "default" in p.schema) p.required = false;
        if (wildcard && p.in === "path" && p.name === "*") p.name = "path";
      }
      if (wildcard && op?.responses && !Object.keys(op.responses).some((s) => s.startsWith("2"))) op.responses = { "200": PROVIDER_ANSWER, ...op.responses };
    }
    if (wildcard) {
      delete paths[route];
      paths[`${route.slice(0, -"{*}".length)}{path}`] = item;
    }
  }
  // What Patchbay sends to a shop integration's webhook_url (the Sendcloud v3 webhooks spec).
  const doc = document as Document;
  doc.webhooks = { ...doc.webhooks, ...SHOP_INTEGRATION_WEBHOOKS };
  doc.components = { ...doc.components, securitySchemes: { ...doc.components?.securitySchemes, sendcloudSignature: SENDCLOUD_SIGNATURE_SCHEME } };
  return document;
}
