// Shop integrations (/api/v3, HTTP Basic with the key's public key and
// secret): the list with its sort options, a settings form whose refusals
// are shown next to the fields they name, and each integration's exception
// logs (and all of them at once), cursor-paged.
import { useEffect, useState } from "preact/hooks";
import { call, linkCursor, useAction } from "../api.js";
import { Field, humanize } from "../schema-form.jsx";
import { Badge, Dialog, Empty, ErrorNote, Pager, usePages, when } from "../ui.jsx";

const SORTS = [
  ["-created_at", "Newest first"],
  ["created_at", "Oldest first"],
  ["-updated_at", "Recently updated"],
  ["integration_type", "Type"],
  ["-last_fetch", "Last fetched"],
  ["-failing_since", "Failing longest"],
];
const CARRIERS = ["ups", "usps", "fedex", "dhl", "dhl_express", "dpd", "gls", "postnl", "bpost", "colissimo", "chronopost", "mondial_relay", "correos", "inpost", "poste_italiane", "royal_mail", "evri", "budbee"];

export function ShopIntegrationsPage({ cred }) {
  const [sort, setSort] = useState("-created_at");
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  const [editing, setEditing] = useState(null);
  const [logs, setLogs] = useState(null);
  const { rows, pager } = usePages(items || []);
  async function reload() {
    try {
      setItems((await call(cred, "GET", `/api/v3/integrations?sort=${encodeURIComponent(sort)}`)).data);
      setError(null);
    } catch (err) {
      setError(err);
    }
  }
  useEffect(() => {
    reload();
  }, [sort]);
  if (!cred.publicKey) return <Empty>The shop integrations API authenticates with the key's public key too: sign out and sign in again with the public key (pk_…) filled in.</Empty>;
  return (
    <>
      <div class="toolbar">
        <Field label="Sort by">
          {(p) => (
            <select {...p} value={sort} onChange={(e) => setSort(e.currentTarget.value)}>
              {SORTS.map(([v, l]) => (
                <option key={v} value={v}>
                  {l}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="button" onClick={() => setLogs({ all: true })} disabled={!items || items.length === 0}>
          Logs of every shop integration
        </button>
      </div>
      <ErrorNote error={error} />
      {items && items.length === 0 && <Empty>No shop integration yet. Connect Shopify, Amazon or eBay under Connectors and it appears here.</Empty>}
      {rows.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Shop integrations</caption>
            <thead>
              <tr>
                <th scope="col">Shop</th>
                <th scope="col">Type</th>
                <th scope="col">Webhook</th>
                <th scope="col">Service points</th>
                <th scope="col">Last fetched</th>
                <th scope="col">State</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((s) => (
                <tr key={s.id}>
                  <td>{s.shop_name}</td>
                  <td>{humanize(s.type)}</td>
                  <td>{s.webhook_active ? "on" : "off"}</td>
                  <td>{s.service_point_enabled ? s.service_point_carriers.join(", ") || "on" : "off"}</td>
                  <td>{when(s.last_fetched_at)}</td>
                  <td>{s.started_failing_at ? <Badge tone="bad">failing since {when(s.started_failing_at)}</Badge> : <Badge tone="ok">ok</Badge>}</td>
                  <td class="actions">
                    <button type="button" onClick={() => setEditing(s)}>
                      Settings for {s.shop_name}
                    </button>
                    <button type="button" onClick={() => setLogs({ shop: s })}>
                      Logs of {s.shop_name}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {pager}
      {logs && <ShopLogsDialog cred={cred} shop={logs.shop ?? null} shops={items || []} onDone={() => setLogs(null)} />}
      {editing && (
        <ShopSettingsDialog
          cred={cred}
          shop={editing}
          onDone={(saved) => {
            setEditing(null);
            if (saved) reload();
          }}
        />
      )}
    </>
  );
}

function ShopSettingsDialog({ cred, shop, onDone }) {
  const [v, setV] = useState({
    shop_name: shop.shop_name,
    shop_url: shop.shop_url ?? "",
    service_point_enabled: shop.service_point_enabled,
    service_point_carriers: new Set(shop.service_point_carriers),
    webhook_active: shop.webhook_active,
    webhook_url: shop.webhook_url ?? "",
    feedback_type: shop.feedback_type,
  });
  const save = useAction(cred);
  async function submit(e) {
    e.preventDefault();
    const body = {
      shop_name: v.shop_name,
      service_point_enabled: v.service_point_enabled,
      service_point_carriers: CARRIERS.filter((c) => v.service_point_carriers.has(c)),
      webhook_active: v.webhook_active,
      webhook_url: v.webhook_url === "" ? null : v.webhook_url,
      feedback_type: v.feedback_type,
    };
    if (v.shop_url !== "") body.shop_url = v.shop_url;
    const r = await save.run("PATCH", `/api/v3/integrations/${shop.id}`, body);
    if (r.ok) onDone(true);
  }
  const f = save.error?.fields || {};
  const set = (k) => (e) => setV({ ...v, [k]: e.currentTarget.type === "checkbox" ? e.currentTarget.checked : e.currentTarget.value });
  const known = ["shop_name", "shop_url", "service_point_enabled", "service_point_carriers", "webhook_active", "webhook_url", "feedback_type"];
  return (
    <Dialog title={`Settings for ${shop.shop_name}`} onClose={() => onDone(false)}>
      <form onSubmit={submit} noValidate autocomplete="off">
        <Field label="Shop name" error={f.shop_name} required>
          {(p) => <input {...p} name="shop_name" value={v.shop_name} onInput={set("shop_name")} />}
        </Field>
        <Field label="Shop URL" error={f.shop_url}>
          {(p) => <input {...p} name="shop_url" type="url" value={v.shop_url} onInput={set("shop_url")} />}
        </Field>
        <div class="field check">
          <input type="checkbox" id="sp-enabled" checked={v.service_point_enabled} onChange={set("service_point_enabled")} />
          <label for="sp-enabled">Service points enabled</label>
          {f.service_point_enabled && <p class="field-error">{f.service_point_enabled}</p>}
        </div>
        <fieldset>
          <legend>Service point carriers</legend>
          <div class="checks">
            {CARRIERS.map((c) => (
              <div class="check" key={c}>
                <input
                  type="checkbox"
                  id={`carrier-${c}`}
                  checked={v.service_point_carriers.has(c)}
                  onChange={(e) => {
                    const next = new Set(v.service_point_carriers);
                    if (e.currentTarget.checked) next.add(c);
                    else next.delete(c);
                    setV({ ...v, service_point_carriers: next });
                  }}
                />
                <label for={`carrier-${c}`}>{humanize(c)}</label>
              </div>
            ))}
          </div>
          {Object.entries(f)
            .filter(([k]) => k.startsWith("service_point_carriers"))
            .map(([k, m]) => (
              <p class="field-error" key={k}>
                {m}
              </p>
            ))}
        </fieldset>
        <div class="field check">
          <input type="checkbox" id="wh-active" checked={v.webhook_active} onChange={set("webhook_active")} />
          <label for="wh-active">Webhook active</label>
          {f.webhook_active && <p class="field-error">{f.webhook_active}</p>}
        </div>
        <Field label="Webhook URL" error={f.webhook_url}>
          {(p) => <input {...p} name="webhook_url" type="url" value={v.webhook_url} onInput={set("webhook_url")} />}
        </Field>
        <Field label="Feedback" help="When the shop is told an order shipped." error={f.feedback_type}>
          {(p) => (
            <select {...p} name="feedback_type" value={v.feedback_type} onChange={set("feedback_type")}>
              <option value="eager">Eager: at once</option>
              <option value="delayed">Delayed</option>
              <option value="none">None</option>
            </select>
          )}
        </Field>
        <ErrorNote error={save.error} skipFields={known.concat(Object.keys(f).filter((k) => k.startsWith("service_point_carriers")))} />
        <div class="actions">
          <button type="button" onClick={() => onDone(false)}>
            Cancel
          </button>
          <button type="submit" disabled={save.running}>
            {save.running ? "Saving…" : `Save settings for ${shop.shop_name}`}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function pretty(value) {
  if (value === undefined || value === null || value === "") return null;
  if (typeof value === "string") {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value, null, 2);
}

/**
 * A shop integration's exception logs (GET /api/v3/integrations/{id}/logs), or
 * every integration's (GET /api/v3/integrations/logs): newest first, ten a
 * page, by the cursor of the Link header; each with the request and the
 * response the shop system gave.
 */
function ShopLogsDialog({ cred, shop, shops, onDone }) {
  const [cursors, setCursors] = useState([null]);
  const [page, setPage] = useState(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState(null);
  const cursor = cursors[cursors.length - 1];
  const base = shop ? `/api/v3/integrations/${shop.id}/logs` : "/api/v3/integrations/logs";
  useEffect(() => {
    let live = true;
    setLoading(true);
    const q = new URLSearchParams({ page_size: "10" });
    if (cursor) q.set("cursor", cursor);
    call(cred, "GET", `${base}?${q}`, { withHeaders: true }).then(
      ({ body, headers }) => {
        if (!live) return;
        const next = linkCursor(headers.get("link"), "next") ?? (body?.next ? new URL(body.next, location.origin).searchParams.get("cursor") : null);
        setPage({ data: body?.data ?? body?.results ?? [], next });
        setError(null);
        setLoading(false);
      },
      (err) => live && (setError(err), setLoading(false)),
    );
    return () => {
      live = false;
    };
  }, [cursor]);
  const rows = page?.data ?? [];
  const name = (id) => shops.find((s) => s.id === id)?.shop_name ?? `integration ${id}`;
  const title = shop ? `Logs of ${shop.shop_name}` : "Logs of every shop integration";
  return (
    <Dialog title={title} onClose={onDone} wide>
      <p class="muted small">Logged when a call to the shop system fails: a resource that cannot be found, credentials the shop no longer accepts. Newest first.</p>
      <ErrorNote error={error} />
      {loading && <p aria-live="polite">Loading logs…</p>}
      {!loading && !error && rows.length === 0 && <Empty>No exception logged{shop ? ` for ${shop.shop_name}` : ""}: every call to the shop system has worked so far.</Empty>}
      {rows.map((log) => {
        const request = pretty(log.request?.payload);
        const requestHeaders = pretty(log.request?.headers);
        const response = pretty(log.response?.body);
        const responseHeaders = pretty(log.response?.headers);
        return (
          <details class="shop-log" key={log.id}>
            <summary>
              <Badge tone={log.response_code >= 500 || !log.response_code ? "bad" : "warn"}>{log.response_code ?? "no answer"}</Badge> {log.method} <code>{log.full_url ?? log.base_url}</code> · {when(log.created_at)}
              {shop ? "" : ` · ${name(log.integration_id)}`}
            </summary>
            {(log.exception_type || log.exception) && (
              <p class="small">
                {log.exception_type && <code>{log.exception_type}</code>} {log.exception}
              </p>
            )}
            {log.protected && <p class="small muted">Protected: secret header values are shown as [redacted] and no request payload is kept.</p>}
            {log.additional_data && typeof log.additional_data === "object" && Object.keys(log.additional_data).length > 0 && (
              <p class="small">
                {Object.entries(log.additional_data)
                  .map(([k, v]) => `${humanize(k)}: ${typeof v === "string" || typeof v === "number" ? v : JSON.stringify(v)}`)
                  .join(" · ")}
              </p>
            )}
            {requestHeaders && (
              <>
                <h3 class="h3">Request headers</h3>
                <pre tabIndex={0}>{requestHeaders}</pre>
              </>
            )}
            {request && (
              <>
                <h3 class="h3">Request body</h3>
                <pre tabIndex={0}>{request}</pre>
              </>
            )}
            {responseHeaders && (
              <>
                <h3 class="h3">Response headers</h3>
                <pre tabIndex={0}>{responseHeaders}</pre>
              </>
            )}
            {response && (
              <>
                <h3 class="h3">Response body</h3>
                <pre tabIndex={0}>{response}</pre>
              </>
            )}
          </details>
        );
      })}
      <Pager
        label={title}
        busy={loading}
        hasPrev={cursors.length > 1}
        hasNext={Boolean(page?.next) && rows.length > 0}
        onPrev={() => setCursors(cursors.slice(0, -1))}
        onNext={() => setCursors([...cursors, page.next])}
        status={`Page ${cursors.length}`}
      />
      <div class="actions">
        <button type="button" onClick={onDone}>
          Close
        </button>
      </div>
    </Dialog>
  );
}
