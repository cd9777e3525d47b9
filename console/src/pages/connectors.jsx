// Connectors: the catalog as cards by category, each with a state badge that
// tells the truth, and the connect / settings / credentials / verify / pause /
// disconnect / restore actions of /v1/integrations.
import { useEffect, useState } from "preact/hooks";
import { call, useAction } from "../api.js";
import { apiFieldMessage, configFrom, Field, humanize, problemsOf, rawFrom, SchemaFields } from "../schema-form.jsx";
import { ActionButton, Badge, CopyButton, Dialog, Empty, ErrorNote, Pager, when } from "../ui.jsx";

// What the server keeps a disconnected connector for (PATCHBAY_RECOVERY_DAYS, default 7): the API does not say.
const DEFAULT_RECOVERY_DAYS = 7;
const HEALTHY = ["ok", "connected"];

async function allConnectors(cred) {
  const rows = [];
  let after = null;
  for (;;) {
    const page = await call(cred, "GET", `/v1/integrations?limit=100${after ? `&starting_after=${after}` : ""}`);
    rows.push(...page.data);
    if (!page.has_more || page.data.length === 0) return rows;
    after = page.data[page.data.length - 1].id;
  }
}

/** The state a connector is really in, in the order that matters to its owner. */
export function stateOf(type, row) {
  if (!row) return { tone: "none", label: "not connected" };
  if (row.disconnected_at) {
    const deadline = new Date(new Date(row.disconnected_at).getTime() + DEFAULT_RECOVERY_DAYS * 86_400_000);
    return { tone: "off", label: "disconnected", detail: `Restorable until about ${deadline.toLocaleString()} (the server's recovery window, ${DEFAULT_RECOVERY_DAYS} days unless configured otherwise).` };
  }
  const missing = type.auth_mode === "A" ? type.required_credential_keys.filter((k) => !row.credentials_masked.includes(k)) : [];
  if (type.auth_mode === "B" && !row.has_credentials_secret_arn) return { tone: "warn", label: "needs authorization", detail: "Approve the app in the shop to finish connecting." };
  if (missing.length > 0) return { tone: "warn", label: "needs credentials", detail: `Missing: ${missing.map(humanize).join(", ")}.` };
  if (!row.is_active) return { tone: "off", label: "paused" };
  // ok (verified) and connected (Shopify's OAuth just completed) are healthy; auth_failed and unreachable are not.
  if (row.sync_status && !HEALTHY.includes(row.sync_status)) return { tone: "bad", label: "failing", detail: row.sync_error || humanize(row.sync_status) };
  return { tone: "ok", label: "active" };
}

export function ConnectorsPage({ cred }) {
  const [catalog, setCatalog] = useState(null);
  const [rows, setRows] = useState(new Map());
  const [error, setError] = useState(null);
  const [dialog, setDialog] = useState(null);

  async function reload() {
    try {
      const [cat, list] = await Promise.all([call(cred, "GET", "/v1/integrations/catalog"), allConnectors(cred)]);
      setCatalog(cat.data);
      setRows(new Map(list.map((r) => [r.connector_type, r])));
      setError(null);
    } catch (err) {
      setError(err);
    }
  }
  useEffect(() => {
    reload();
  }, []);

  const update = (row) => setRows((m) => new Map(m).set(row.connector_type, row));
  if (error) return <ErrorNote error={error} />;
  if (!catalog) return <p aria-live="polite">Loading connectors…</p>;

  const categories = [...new Set(catalog.map((t) => t.category))];
  return (
    <>
      <p class="muted">Every connector type Patchbay knows, by category. Credentials are write-only: this page can set or remove them, never show them.</p>
      {categories.map((category) => (
        <section key={category} aria-labelledby={`cat-${category}`}>
          <h2 id={`cat-${category}`}>{humanize(category)}</h2>
          <div class="grid">
            {catalog
              .filter((t) => t.category === category)
              .map((t) => (
                <ConnectorCard key={t.connector_type} cred={cred} type={t} row={rows.get(t.connector_type)} onChanged={update} openDialog={setDialog} />
              ))}
          </div>
        </section>
      ))}
      {dialog && dialog.kind === "connect" && <ConnectDialog cred={cred} type={dialog.type} row={dialog.row} onDone={(row) => { if (row) update(row); setDialog(null); }} />}
      {dialog && dialog.kind === "credentials" && <CredentialsDialog cred={cred} type={dialog.type} onDone={(row) => { if (row) update(row); setDialog(null); }} />}
      {dialog && dialog.kind === "logs" && <ProviderCallsDialog cred={cred} type={dialog.type} onDone={() => setDialog(null)} />}
      {dialog && dialog.kind === "confirm" && <ConfirmDialog {...dialog} cred={cred} onDone={(row) => { if (row) update(row); setDialog(null); }} />}
    </>
  );
}

function ConnectorCard({ cred, type, row, onChanged, openDialog }) {
  const verify = useAction(cred);
  const pause = useAction(cred);
  const [verified, setVerified] = useState(null);
  const state = stateOf(type, row);
  const name = type.name;
  const hidden = (text) => <span class="visually-hidden"> {text}</span>;

  async function runVerify() {
    setVerified(null);
    const r = await verify.run("POST", `/v1/integrations/${type.connector_type}/verify`);
    if (r.ok) {
      onChanged(r.result.data);
      setVerified(r.result.data.sync_status === "ok" ? "The provider accepted the credentials." : `The provider refused: ${(r.result.data.sync_error || humanize(r.result.data.sync_status || "unknown")).replace(/\.$/, "")}.`);
    }
  }
  async function togglePause() {
    const r = await pause.run("PATCH", `/v1/integrations/${type.connector_type}`, { is_active: !row.is_active });
    if (r.ok) onChanged(r.result.data);
  }

  return (
    <article class="card" aria-labelledby={`card-${type.connector_type}`} data-type={type.connector_type}>
      <header>
        <h3 id={`card-${type.connector_type}`}>{name}</h3>
        <Badge tone={state.tone}>{state.label}</Badge>
      </header>
      {state.detail && <p class="muted small">{state.detail}</p>}
      {row && !row.disconnected_at && (
        <dl>
          <dt>Name</dt>
          <dd>{row.display_name}</dd>
          <dt>Mode</dt>
          <dd>{row.mode}</dd>
          {type.auth_mode === "A" && (
            <>
              <dt>Credentials stored</dt>
              <dd>{row.credentials_masked.length ? row.credentials_masked.map(humanize).join(", ") : "none"}</dd>
            </>
          )}
          {row.last_sync_at && (
            <>
              <dt>Last checked</dt>
              <dd>{when(row.last_sync_at)}</dd>
            </>
          )}
        </dl>
      )}
      <p class="small">
        <a href={type.docs_url} target="_blank" rel="noopener noreferrer">
          {name} API documentation
        </a>
      </p>
      {row && !row.disconnected_at && row.inbound_webhook_url && (
        <div class="linkbox">
          <p class="small">
            Webhook URL to register with {name}: <code>{row.inbound_webhook_url}</code>
          </p>
          <CopyButton text={row.inbound_webhook_url} label={`Copy the ${name} webhook URL`} />
        </div>
      )}
      {verified && <p role="status" class="small">{verified}</p>}
      <ErrorNote error={verify.error || pause.error} />
      <div class="actions">
        {!row && (
          <button type="button" onClick={() => openDialog({ kind: "connect", type })}>
            Connect{hidden(name)}
          </button>
        )}
        {row && row.disconnected_at && (
          <button type="button" onClick={() => openDialog({ kind: "confirm", type, action: "restore" })}>
            Restore{hidden(name)}
          </button>
        )}
        {row && !row.disconnected_at && (
          <>
            <button type="button" onClick={() => openDialog({ kind: "connect", type, row })}>
              Settings{hidden(name)}
            </button>
            {type.auth_mode === "A" && (
              <button type="button" onClick={() => openDialog({ kind: "credentials", type })}>
                Credentials{hidden(name)}
              </button>
            )}
            {(type.auth_mode === "B" || row.credentials_masked.length > 0) && (
              <ActionButton running={verify.running} onClick={runVerify} label={<>Verify{hidden(name)}</>} busyLabel="Verifying…" />
            )}
            <ActionButton running={pause.running} onClick={togglePause} label={<>{row.is_active ? "Pause" : "Resume"}{hidden(name)}</>} busyLabel="Saving…" />
            <button type="button" onClick={() => openDialog({ kind: "logs", type })}>
              Provider calls{hidden(name)}
            </button>
            <button type="button" class="danger" onClick={() => openDialog({ kind: "confirm", type, action: "disconnect" })}>
              Disconnect{hidden(name)}
            </button>
          </>
        )}
      </div>
    </article>
  );
}

/** Connect (new) or settings (existing): the type's fields and its config_schema as a form. */
function ConnectDialog({ cred, type, row, onDone }) {
  const schema = type.config_schema || { properties: {} };
  const [displayName, setDisplayName] = useState(row?.display_name ?? type.name);
  const [mode, setMode] = useState(row?.mode ?? (cred.key?.startsWith("ark_test_") ? "sandbox" : "live"));
  const [extra, setExtra] = useState(() => Object.fromEntries(type.required_fields.map((f) => [f, row?.[f] ?? ""])));
  const [shop, setShop] = useState("");
  const [raw, setRaw] = useState(rawFrom(schema, row?.config));
  const [problems, setProblems] = useState({});
  const [oauth, setOauth] = useState(null);
  const save = useAction(cred);
  const isShopify = type.auth_mode === "B";

  // Waits for the merchant to approve the app: the connector gets its token when Shopify calls back.
  useEffect(() => {
    if (!oauth) return undefined;
    const timer = setInterval(async () => {
      try {
        const got = await call(cred, "GET", `/v1/integrations/${type.connector_type}`);
        if (got.data.has_credentials_secret_arn) {
          clearInterval(timer);
          onDone(got.data);
        }
      } catch {
        // Not there yet (the callback creates it): keep waiting.
      }
    }, 1500);
    return () => clearInterval(timer);
  }, [oauth]);

  async function submit(e) {
    e.preventDefault();
    const found = problemsOf(schema, raw);
    setProblems(found);
    if (Object.keys(found).length > 0) return;
    const body = { display_name: displayName, mode, config: configFrom(schema, raw) };
    for (const f of type.required_fields) body[f] = extra[f];
    if (isShopify && !row) body.shop = shop;
    // A settings change replaces what was there: fields left empty are removed (merge patch null).
    if (row) for (const name of Object.keys(row.config || {})) if (!(name in body.config)) body.config[name] = null;
    const r = row ? await save.run("PATCH", `/v1/integrations/${type.connector_type}`, body) : await save.run("POST", `/v1/integrations/${type.connector_type}`, body);
    if (!r.ok) return;
    if (r.result.object === "integration_oauth_required") {
      setOauth(r.result);
      window.open(r.result.oauth_url, "_blank", "noopener");
      return;
    }
    onDone(r.result.data ?? r.result);
  }

  const fieldErrors = { ...problems };
  for (const [param, message] of Object.entries(save.error?.fields || {})) {
    const name = param.replace(/^config\./, "");
    fieldErrors[param] = apiFieldMessage(schema.properties?.[name], name, message);
  }
  const known = ["display_name", "mode", "shop", ...type.required_fields, ...Object.keys(schema.properties || {}).map((n) => `config.${n}`)];

  if (oauth) {
    return (
      <Dialog title={`Approve Patchbay in ${type.name}`} onClose={() => onDone(null)}>
        <p>A new tab opened {type.name}'s approval page. Approve the app there; this page updates by itself when {type.name} sends the merchant back.</p>
        <p aria-live="polite" class="muted">Waiting for {type.name}… (the link expires {when(oauth.expires_at)})</p>
        <div class="actions">
          <a class="button" href={oauth.oauth_url} target="_blank" rel="noopener noreferrer">
            Open {type.name} approval again
          </a>
          <button type="button" onClick={() => onDone(null)}>
            Close
          </button>
        </div>
      </Dialog>
    );
  }

  return (
    <Dialog title={row ? `${type.name} settings` : `Connect ${type.name}`} onClose={() => onDone(null)}>
      <form onSubmit={submit} autocomplete="off" noValidate>
        <Field label="Display name" error={fieldErrors.display_name} required>
          {(p) => <input {...p} name="display_name" value={displayName} onInput={(e) => setDisplayName(e.currentTarget.value)} />}
        </Field>
        <Field label="Mode" help="Sandbox talks to the provider's test environment; a test-mode key can only use sandbox." error={fieldErrors.mode}>
          {(p) => (
            <select {...p} name="mode" value={mode} onChange={(e) => setMode(e.currentTarget.value)}>
              <option value="sandbox">Sandbox</option>
              <option value="live">Live</option>
            </select>
          )}
        </Field>
        {isShopify && !row && (
          <Field label="Shop domain" help="The shop's myshopify.com domain, such as my-shop.myshopify.com." error={fieldErrors.shop} required>
            {(p) => <input {...p} name="shop" value={shop} onInput={(e) => setShop(e.currentTarget.value)} />}
          </Field>
        )}
        {type.required_fields.map((f) => (
          <Field key={f} label={humanize(f)} error={fieldErrors[f]} required>
            {(p) => <input {...p} name={f} value={extra[f]} onInput={(e) => setExtra({ ...extra, [f]: e.currentTarget.value })} />}
          </Field>
        ))}
        {Object.keys(schema.properties || {}).length > 0 && <h3>Settings</h3>}
        <SchemaFields schema={schema} raw={raw} onChange={setRaw} errors={fieldErrors} />
        <ErrorNote error={save.error} skipFields={known} />
        <div class="actions">
          <button type="button" onClick={() => onDone(null)}>
            Cancel
          </button>
          <button type="submit" disabled={save.running}>
            {save.running ? "Saving…" : row ? `Save ${type.name} settings` : isShopify ? `Continue to ${type.name}` : `Connect ${type.name}`}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/** Credentials: write-only password fields, one per key the catalog names. */
function CredentialsDialog({ cred, type, onDone }) {
  const [values, setValues] = useState({});
  const [webhookSecret, setWebhookSecret] = useState("");
  const save = useAction(cred);
  async function submit(e) {
    e.preventDefault();
    const body = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== ""));
    let row = null;
    if (Object.keys(body).length > 0) {
      const r = await save.run("PUT", `/v1/integrations/${type.connector_type}/credentials`, body);
      if (!r.ok) return;
      row = r.result.data;
    }
    if (webhookSecret !== "") {
      const r = await save.run("PUT", `/v1/integrations/${type.connector_type}/webhook-secret`, { webhook_secret: webhookSecret });
      if (!r.ok) return;
      row = r.result.data;
    }
    // Nothing typed stays in the page once it is stored.
    setValues({});
    setWebhookSecret("");
    onDone(row);
  }
  const known = [...type.credential_keys, "webhook_secret"];
  return (
    <Dialog title={`${type.name} credentials`} onClose={() => onDone(null)}>
      <form onSubmit={submit} autocomplete="off" noValidate>
        <p class="muted">Stored sealed and never shown again. Storing replaces what was stored before; leave a field empty to keep it out.</p>
        {type.credential_keys.map((k) => (
          <Field key={k} label={humanize(k)} required={type.required_credential_keys.includes(k)} error={save.error?.fields?.[k]}>
            {(p) => <input {...p} required={false} name={k} type="password" autocomplete="new-password" spellcheck={false} value={values[k] ?? ""} onInput={(e) => setValues({ ...values, [k]: e.currentTarget.value })} />}
          </Field>
        ))}
        <Field label="Webhook signing secret" help={`The secret ${type.name} signs its webhooks with, if it sends any.`} error={save.error?.fields?.webhook_secret}>
          {(p) => <input {...p} name="webhook_secret" type="password" autocomplete="new-password" spellcheck={false} value={webhookSecret} onInput={(e) => setWebhookSecret(e.currentTarget.value)} />}
        </Field>
        <ErrorNote error={save.error} skipFields={known} />
        <div class="actions">
          <button type="button" onClick={() => onDone(null)}>
            Cancel
          </button>
          <button type="submit" disabled={save.running}>
            {save.running ? "Storing…" : `Store ${type.name} credentials`}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function ConfirmDialog({ cred, type, action, onDone }) {
  const act = useAction(cred);
  const restore = action === "restore";
  async function confirm() {
    const r = restore ? await act.run("POST", `/v1/integrations/${type.connector_type}`, {}) : await act.run("DELETE", `/v1/integrations/${type.connector_type}`);
    if (r.ok) onDone(r.result.data ?? r.result);
  }
  return (
    <Dialog title={restore ? `Restore ${type.name}?` : `Disconnect ${type.name}?`} onClose={() => onDone(null)}>
      <p>
        {restore
          ? `${type.name} comes back with its settings and the credentials it had.`
          : `${type.name} stops working at once. Its credentials stay sealed for the recovery window, so you can restore it until then; after that they are destroyed.`}
      </p>
      <ErrorNote error={act.error} />
      <div class="actions">
        <button type="button" onClick={() => onDone(null)}>
          Cancel
        </button>
        <ActionButton running={act.running} onClick={confirm} class={restore ? "" : "danger"} label={restore ? `Restore ${type.name}` : `Disconnect ${type.name}`} busyLabel={restore ? "Restoring…" : "Disconnecting…"} />
      </div>
    </Dialog>
  );
}

const STATUS_CLASSES = [
  { value: "", label: "Every status" },
  { value: "2xx", label: "2xx" },
  { value: "3xx", label: "3xx" },
  { value: "4xx", label: "4xx" },
  { value: "5xx", label: "5xx" },
  { value: "error", label: "No answer (timeout, network)" },
];

/** The connector's provider-call log (GET /v1/integrations/{type}/logs): newest first, older pages by cursor, by status class. */
function ProviderCallsDialog({ cred, type, onDone }) {
  const [statusClass, setStatusClass] = useState("");
  // The cursors of the pages shown so far: the API pages forwards only (starting_after), so going back re-reads the page before.
  const [cursors, setCursors] = useState([null]);
  const [page, setPage] = useState(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState(null);
  const cursor = cursors[cursors.length - 1];
  useEffect(() => {
    let live = true;
    setLoading(true);
    const q = new URLSearchParams({ limit: "10" });
    if (statusClass) q.set("status_class", statusClass);
    if (cursor) q.set("starting_after", cursor);
    call(cred, "GET", `/v1/integrations/${type.connector_type}/logs?${q}`).then(
      (r) => live && (setPage(r), setError(null), setLoading(false)),
      (err) => live && (setError(err), setLoading(false)),
    );
    return () => {
      live = false;
    };
  }, [statusClass, cursor]);
  const rows = page?.data ?? [];
  return (
    <Dialog title={`${type.name} provider calls`} onClose={onDone} wide>
      <p class="muted small">Every call Patchbay made to {type.name} for this connector: proxied requests, verification, health checks and token minting. Header values and bodies are never kept.</p>
      <Field label="Status">
        {(p) => (
          <select
            {...p}
            name="status_class"
            value={statusClass}
            onChange={(e) => {
              setStatusClass(e.currentTarget.value);
              setCursors([null]);
            }}
          >
            {STATUS_CLASSES.map((c) => (
              <option key={c.value} value={c.value}>
                {c.label}
              </option>
            ))}
          </select>
        )}
      </Field>
      <ErrorNote error={error} />
      {loading && <p aria-live="polite">Loading calls…</p>}
      {!loading && !error && rows.length === 0 && <Empty>No call {statusClass ? "with that status " : ""}yet. Press Verify on the card, or send a request through the proxy, and it shows here.</Empty>}
      {rows.length > 0 && (
        <div class="table-wrap" tabIndex={0} role="region" aria-label={`${type.name} provider calls`}>
          <table class="calls">
            <caption class="visually-hidden">{type.name} provider calls, newest first</caption>
            <thead>
              <tr>
                <th scope="col">At</th>
                <th scope="col">Purpose</th>
                <th scope="col">Request</th>
                <th scope="col">Status</th>
                <th scope="col">Latency</th>
                <th scope="col">Request id</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((c) => (
                <tr key={c.id}>
                  <td>{when(c.created_at)}</td>
                  <td>{humanize(c.purpose)}</td>
                  <td>
                    <code>
                      {c.method} {c.path}
                    </code>
                  </td>
                  <td>{c.status ?? c.error_class ?? "—"}</td>
                  <td>{c.latency_ms} ms</td>
                  <td>{c.request_id ? <code>{c.request_id}</code> : "background"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager
        label={`${type.name} provider calls`}
        busy={loading}
        hasPrev={cursors.length > 1}
        hasNext={Boolean(page?.has_more) && rows.length > 0}
        onPrev={() => setCursors(cursors.slice(0, -1))}
        onNext={() => setCursors([...cursors, rows[rows.length - 1].id])}
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
