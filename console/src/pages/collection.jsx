// Developers › API collection: the OpenAPI document, and a Postman (v2.1)
// collection generated from it here, in the browser; Insomnia and Bruno import
// either file.
import { useState } from "preact/hooks";
import { openapi } from "../api.js";
import { ActionButton, ErrorNote } from "../ui.jsx";

const METHODS = ["get", "post", "put", "patch", "delete"];

// How each OpenAPI security scheme is filled in from the collection's variables.
const SCHEME_VARIABLES = { bearerAuth: "apiKey", adminAuth: "adminToken", connectionToken: "connectionToken", metricsToken: "metricsToken" };

/** Postman auth (and extra headers) for an operation's first security requirement. */
function authOf(doc, op) {
  const requirement = (op.security ?? doc.security ?? [])[0];
  if (!requirement || Object.keys(requirement).length === 0) return { auth: { type: "noauth" }, headers: [] };
  const schemes = doc.components?.securitySchemes ?? {};
  const headers = [];
  let auth = null;
  for (const name of Object.keys(requirement)) {
    const scheme = schemes[name] ?? {};
    if (scheme.type === "apiKey" && scheme.in === "header") headers.push({ key: scheme.name, value: "{{apiKey}}" });
    else if (scheme.type === "http" && scheme.scheme === "basic") {
      auth = { type: "basic", basic: [{ key: "username", value: "{{publicKey}}", type: "string" }, { key: "password", value: "{{apiKey}}", type: "string" }] };
    } else if (scheme.type === "http" && scheme.scheme === "bearer") {
      auth = { type: "bearer", bearer: [{ key: "token", value: `{{${SCHEME_VARIABLES[name] ?? "apiKey"}}}`, type: "string" }] };
    }
  }
  return { auth: auth ?? { type: "noauth" }, headers };
}

/** A small example value for a JSON Schema: required properties only, the first enum value, the type's zero. */
export function exampleOf(doc, schema, depth = 0) {
  if (!schema || depth > 6) return null;
  if (schema.$ref) {
    const name = schema.$ref.split("/").pop();
    return exampleOf(doc, doc.components?.schemas?.[name], depth + 1);
  }
  if (schema.example !== undefined) return schema.example;
  if (schema.default !== undefined) return schema.default;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if ("const" in schema) return schema.const;
  const options = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(options)) return exampleOf(doc, options.find((o) => o.type !== "null") ?? options[0], depth + 1);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  if (type === "object" || schema.properties) {
    const out = {};
    for (const name of schema.required ?? []) out[name] = exampleOf(doc, schema.properties?.[name], depth + 1);
    return out;
  }
  if (type === "array") return schema.minItems ? [exampleOf(doc, schema.items, depth + 1)] : [];
  if (type === "integer" || type === "number") return schema.minimum ?? 0;
  if (type === "boolean") return false;
  if (type === "string") return schema.format === "uri" ? "https://example.com/" : schema.format === "email" ? "someone@example.com" : "";
  return null;
}

/**
 * A Postman (v2.1) collection from an OpenAPI document: one folder per tag,
 * one request per operation, each with the auth its security scheme asks for
 * (collection variables apiKey, publicKey, adminToken, connectionToken) and an
 * example body of the required fields. Postman, Insomnia and Bruno import it.
 */
export function postmanCollection(doc, baseUrl) {
  const folders = new Map();
  for (const [path, ops] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      const op = ops[method];
      if (!op) continue;
      const tag = op.tags?.[0] ?? "other";
      if (!folders.has(tag)) folders.set(tag, []);
      const segments = path.split("/").filter(Boolean).map((s) => s.replace(/^\{(.+)\}$/, ":$1"));
      const params = [...(ops.parameters || []), ...(op.parameters || [])];
      const query = params.filter((p) => p.in === "query").map((p) => ({ key: p.name, value: "", disabled: !p.required, description: p.description ?? "" }));
      const variable = params.filter((p) => p.in === "path").map((p) => ({ key: p.name, value: "", description: p.description ?? "" }));
      const { auth, headers } = authOf(doc, op);
      const request = {
        method: method.toUpperCase(),
        description: op.description ?? op.summary ?? "",
        auth,
        header: [...headers],
        url: { raw: `{{baseUrl}}/${segments.join("/")}`, host: ["{{baseUrl}}"], path: segments, query, variable },
      };
      const body = op.requestBody?.content?.["application/json"]?.schema;
      if (body) {
        request.header.push({ key: "Content-Type", value: "application/json" });
        request.body = { mode: "raw", raw: JSON.stringify(exampleOf(doc, body) ?? {}, null, 2), options: { raw: { language: "json" } } };
      }
      if (method !== "get") request.header.push({ key: "Idempotency-Key", value: "{{$guid}}" });
      folders.get(tag).push({ name: op.summary ?? `${method.toUpperCase()} ${path}`, request });
    }
  }
  return {
    info: { name: doc.info?.title ?? "Patchbay", description: doc.info?.description ?? "", schema: "https://schema.getpostman.com/json/collection/v2.1.0/collection.json" },
    variable: [
      { key: "baseUrl", value: baseUrl },
      { key: "apiKey", value: "", description: "An entity API key (ark_live_ent_… or ark_test_ent_…)" },
      { key: "publicKey", value: "", description: "The key's public key (pk_…), the HTTP Basic user on /api/v3" },
      { key: "adminToken", value: "", description: "The admin token (PATCHBAY_ADMIN_TOKEN), for /admin/v1" },
      { key: "connectionToken", value: "", description: "A connection token of scope access (POST /connections/{id}/token)" },
      { key: "metricsToken", value: "", description: "The metrics token (PATCHBAY_METRICS_TOKEN), for /metrics" },
    ],
    item: [...folders].map(([name, item]) => ({ name, item })),
  };
}

function download(name, value) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(value, null, 2)], { type: "application/json" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function CollectionPage() {
  const [running, setRunning] = useState(null);
  const [error, setError] = useState(null);
  async function get(kind) {
    setRunning(kind);
    setError(null);
    try {
      const doc = await openapi();
      if (kind === "openapi") download("patchbay-openapi.json", doc);
      else download("patchbay.postman_collection.json", postmanCollection(doc, location.origin));
    } catch (err) {
      setError(err);
    } finally {
      setRunning(null);
    }
  }
  return (
    <>
      <p>
        Every operation of this server, to import into Postman, Insomnia, Bruno or a code generator. The collection (Postman v2.1, which Insomnia and Bruno import too) has a <code>baseUrl</code> set to this server, each request's auth
        as its API asks, and empty <code>apiKey</code>, <code>publicKey</code>, <code>adminToken</code> and <code>connectionToken</code> variables: fill in the ones you use after importing. No key is put in the file.
      </p>
      <ErrorNote error={error} />
      <div class="actions">
        <ActionButton running={running === "openapi"} onClick={() => get("openapi")} label="Download the OpenAPI document" busyLabel="Preparing…" />
        <ActionButton running={running === "postman"} onClick={() => get("postman")} label="Download the Postman collection" busyLabel="Preparing…" />
      </div>
      <p class="small">
        The live reference is at <a href="/docs">/docs</a>.
      </p>
    </>
  );
}
