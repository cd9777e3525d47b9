// Shop integrations (/api/v3, HTTP Basic with the key's public key and
// secret): the list with its sort options and a settings form whose refusals
// are shown next to the fields they name.
import { useEffect, useState } from "preact/hooks";
import { call, useAction } from "../api.js";
import { Field, humanize } from "../schema-form.jsx";
import { Badge, Dialog, Empty, ErrorNote, usePages, when } from "../ui.jsx";

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
                  <td>
                    <button type="button" onClick={() => setEditing(s)}>
                      Settings for {s.shop_name}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {pager}
      {/* SHOP-LOGS: a shop integration's logs have no public API yet; they go here when one exists. */}
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
