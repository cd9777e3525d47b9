// Audit log: filters (target type, target id, time range), paging, and the
// before/after of each change. Entity keys read /v1/audit_events; operators
// pick an entity and read /admin/v1/entities/{id}/audit_events.
import { useState } from "preact/hooks";
import { call, cursorQuery } from "../api.js";
import { Field } from "../schema-form.jsx";
import { Empty, ErrorNote, useCursorList, when } from "../ui.jsx";
import { EntityPicker } from "./entities.jsx";

const TARGETS = ["connector", "api_key", "webhook_endpoint", "connection", "shop_integration", "entity"];

function iso(local) {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function show(value) {
  if (value === undefined) return "—";
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function AuditPage({ cred }) {
  const [entityId, setEntityId] = useState(sessionStorage.getItem("patchbay.console.entity") || "");
  const [draft, setDraft] = useState({ target_type: "", target_id: "", from: "", to: "" });
  const [filters, setFilters] = useState(draft);
  const base = cred.kind === "admin" ? `/admin/v1/entities/${entityId}/audit_events` : "/v1/audit_events";
  const ready = cred.kind !== "admin" || entityId;
  const list = useCursorList(
    (q) =>
      ready
        ? call(cred, "GET", `${base}${cursorQuery({ ...q, target_type: filters.target_type, target_id: filters.target_id, created_gte: iso(filters.from), created_lte: iso(filters.to) })}`)
        : Promise.resolve({ data: [], has_more: false }),
    [filters, entityId],
  );
  const set = (k) => (e) => setDraft({ ...draft, [k]: e.currentTarget.value });
  return (
    <>
      {cred.kind === "admin" && <EntityPicker cred={cred} value={entityId} onChange={setEntityId} />}
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(draft);
        }}
      >
        <Field label="Target type">
          {(p) => (
            <select {...p} value={draft.target_type} onChange={set("target_type")}>
              <option value="">Any</option>
              {TARGETS.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Target ID">{(p) => <input {...p} value={draft.target_id} onInput={set("target_id")} />}</Field>
        <Field label="From">{(p) => <input {...p} type="datetime-local" value={draft.from} onInput={set("from")} />}</Field>
        <Field label="To">{(p) => <input {...p} type="datetime-local" value={draft.to} onInput={set("to")} />}</Field>
        <button type="submit" disabled={list.loading}>
          {list.loading ? "Loading…" : "Apply filters"}
        </button>
      </form>
      <ErrorNote error={list.error} />
      {!list.loading && list.data.length === 0 && !list.error && <Empty>No audit event matches. Every change to a connector, key, endpoint or connection is recorded here; widen the filters or make a change.</Empty>}
      {list.data.map((ev) => (
        <details class="audit" key={ev.id}>
          <summary>
            <strong>{ev.action}</strong> · {ev.target.type} <code>{ev.target.id}</code> · by {ev.actor.type}
            {ev.actor.id ? ` ${ev.actor.id}` : ""} · {when(ev.created_at)}
          </summary>
          {Object.keys(ev.changes || {}).length === 0 ? (
            <p class="small muted">No field changed.</p>
          ) : (
            <table>
              <caption class="visually-hidden">Changes</caption>
              <thead>
                <tr>
                  <th scope="col">Field</th>
                  <th scope="col">Before</th>
                  <th scope="col">After</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(ev.changes).map(([field, change]) => (
                  <tr key={field}>
                    <td>{field}</td>
                    <td>
                      <code>{show(change?.before)}</code>
                    </td>
                    <td>
                      <code>{show(change?.after)}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {ev.request_id && <p class="small muted">Request {ev.request_id}</p>}
        </details>
      ))}
      {list.pager("audit log")}
    </>
  );
}
