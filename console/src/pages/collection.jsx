// Developers › API collection: the OpenAPI document, and a Postman (v2.1)
// collection generated from it here, in the browser; Insomnia and Bruno import
// either file.
import { useState } from "preact/hooks";
import { call } from "../api.js";
import { ActionButton, ErrorNote } from "../ui.jsx";

const METHODS = ["get", "post", "put", "patch", "delete"];

/** A Postman collection from an OpenAPI document: one folder per tag, one request per operation. */
export function postmanCollection(doc, baseUrl) {
  const folders = new Map();
  for (const [path, ops] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      const op = ops[method];
      if (!op) continue;
      const tag = op.tags?.[0] ?? "other";
      if (!folders.has(tag)) folders.set(tag, []);
      const segments = path.split("/").filter(Boolean).map((s) => s.replace(/^\{(.+)\}$/, ":$1"));
      const query = (op.parameters || []).filter((p) => p.in === "query").map((p) => ({ key: p.name, value: "", disabled: true, description: p.description ?? "" }));
      const variable = (op.parameters || []).filter((p) => p.in === "path").map((p) => ({ key: p.name, value: "" }));
      const request = {
        method: method.toUpperCase(),
        description: op.description ?? op.summary ?? "",
        header: [],
        url: { raw: `{{baseUrl}}/${segments.join("/")}`, host: ["{{baseUrl}}"], path: segments, query, variable },
      };
      if (op.requestBody?.content?.["application/json"]) {
        request.header.push({ key: "Content-Type", value: "application/json" });
        request.body = { mode: "raw", raw: "{}", options: { raw: { language: "json" } } };
      }
      if (method !== "get") request.header.push({ key: "Idempotency-Key", value: "{{$guid}}" });
      folders.get(tag).push({ name: op.summary ?? `${method.toUpperCase()} ${path}`, request });
    }
  }
  return {
    info: { name: doc.info?.title ?? "Patchbay", description: doc.info?.description ?? "", schema: "https://schema.getpostman.com/json/collection/v2.1.0/collection.json" },
    auth: { type: "bearer", bearer: [{ key: "token", value: "{{apiKey}}", type: "string" }] },
    variable: [
      { key: "baseUrl", value: baseUrl },
      { key: "apiKey", value: "" },
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
      const doc = await call(null, "GET", "/openapi.json");
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
      <p>Every operation of this server, to import into Postman, Insomnia, Bruno or a code generator. The collection has a <code>baseUrl</code> set to this server and an empty <code>apiKey</code> variable: fill it in after importing.</p>
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
