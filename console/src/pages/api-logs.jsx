// Developers › API logs: the entity's requests to the API, newest first, by
// status (a code or a class such as 4xx), method, path, API key and time
// range; each with its latency and request id. Entity keys read
// /v1/request_logs (scope request_logs:read); operators pick an entity and
// read /admin/v1/entities/{id}/request_logs, with the keys' names.
import { useEffect, useState } from "preact/hooks";
import { call, cursorQuery } from "../api.js";
import { Field } from "../schema-form.jsx";
import { Badge, Empty, ErrorNote, useCursorList, when } from "../ui.jsx";
import { EntityPicker } from "./entities.jsx";

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];

function iso(local) {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function tone(status) {
  if (status >= 500) return "bad";
  if (status >= 400) return "warn";
  return "ok";
}

export function ApiLogsPage({ cred }) {
  const empty = { status: "", method: "", path_prefix: "", api_key_id: "", from: "", to: "" };
  const [draft, setDraft] = useState(empty);
  const [filters, setFilters] = useState(empty);
  const [entityId, setEntityId] = useState(sessionStorage.getItem("patchbay.console.entity") || "");
  const [keyNames, setKeyNames] = useState(new Map());
  const admin = cred.kind === "admin";
  const base = admin ? `/admin/v1/entities/${entityId}/request_logs` : "/v1/request_logs";
  useEffect(() => {
    if (!admin || !entityId) return;
    call(cred, "GET", `/admin/v1/entities/${entityId}/api-keys`).then(
      (r) => setKeyNames(new Map(r.data.map((k) => [k.id, `${k.name} (${k.key_prefix}…)`]))),
      () => setKeyNames(new Map()),
    );
  }, [entityId]);
  const list = useCursorList(
    (q) =>
      admin && !entityId
        ? Promise.resolve({ data: [], has_more: false })
        : call(
        cred,
        "GET",
        `${base}${cursorQuery({
          ...q,
          status: filters.status.trim().toLowerCase(),
          method: filters.method,
          path_prefix: filters.path_prefix.trim(),
          api_key_id: filters.api_key_id.trim(),
          created_gte: iso(filters.from),
          created_lte: iso(filters.to),
        })}`,
      ),
    [filters, entityId],
  );
  const set = (k) => (e) => setDraft({ ...draft, [k]: e.currentTarget.value });
  const f = list.error?.fields || {};
  const filtered = Object.values(filters).some((v) => v !== "");
  return (
    <>
      {admin && <EntityPicker cred={cred} value={entityId} onChange={setEntityId} />}
      <p class="muted">Every request made to the API with this entity's keys, newest first, within a few seconds. Bodies and header values are never kept.</p>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(draft);
        }}
      >
        <Field label="Status" help="A code such as 404, or a class such as 4xx." error={f.status}>
          {(p) => <input {...p} name="status" size="6" value={draft.status} onInput={set("status")} />}
        </Field>
        <Field label="Method" error={f.method}>
          {(p) => (
            <select {...p} name="method" value={draft.method} onChange={set("method")}>
              <option value="">Any</option>
              {METHODS.map((m) => (
                <option key={m} value={m}>
                  {m}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Path starts with" error={f.path_prefix}>
          {(p) => <input {...p} name="path_prefix" placeholder="/v1/integrations" value={draft.path_prefix} onInput={set("path_prefix")} />}
        </Field>
        <Field label="API key ID" error={f.api_key_id}>
          {(p) => <input {...p} name="api_key_id" value={draft.api_key_id} onInput={set("api_key_id")} />}
        </Field>
        <Field label="From" error={f.created_gte}>
          {(p) => <input {...p} type="datetime-local" value={draft.from} onInput={set("from")} />}
        </Field>
        <Field label="To" error={f.created_lte}>
          {(p) => <input {...p} type="datetime-local" value={draft.to} onInput={set("to")} />}
        </Field>
        <button type="submit" disabled={list.loading}>
          {list.loading ? "Loading…" : "Apply filters"}
        </button>
      </form>
      <ErrorNote error={list.error} skipFields={["status", "method", "path_prefix", "api_key_id", "created_gte", "created_lte"]} />
      {!list.loading && !list.error && list.data.length === 0 && (
        <Empty>{filtered ? "No request matches these filters: widen them." : "No request logged yet. Every call made with this entity's keys shows here within a few seconds."}</Empty>
      )}
      {list.data.length > 0 && (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="API requests">
          <table class="stack">
            <caption class="visually-hidden">API requests, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Date</th>
                <th scope="col">Status</th>
                <th scope="col">Method</th>
                <th scope="col">Path</th>
                <th scope="col">Latency</th>
                <th scope="col">Request ID</th>
                <th scope="col">API key</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((r) => (
                <tr key={r.id}>
                  <td data-label="Date">{when(r.created_at)}</td>
                  <td data-label="Status">
                    <Badge tone={tone(r.status)}>{r.status}</Badge>
                  </td>
                  <td data-label="Method">{r.method}</td>
                  <td data-label="Path">
                    <code>{r.path}</code>
                  </td>
                  <td data-label="Latency">{r.latency_ms} ms</td>
                  <td data-label="Request ID">
                    <code>{r.request_id}</code>
                  </td>
                  <td data-label="API key" class="small">
                    <span>
                      {keyNames.get(r.api_key_id) ?? (r.api_key_id ? <code>{r.api_key_id}</code> : "—")}
                      {r.api_key_id && r.api_key_id === cred.keyId ? " (this key)" : ""}
                      {r.mode ? ` · ${r.mode}` : ""}
                    </span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.pager("API requests")}
    </>
  );
}
