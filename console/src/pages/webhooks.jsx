// Developers › Webhooks: endpoints (create with event families, pause/resume,
// rotate the signing secret, delete) and each endpoint's deliveries (status,
// latency, attempts; retry one).
import { useState } from "preact/hooks";
import { call, cursorQuery, useAction } from "../api.js";
import { Field } from "../schema-form.jsx";
import { ActionButton, Badge, CopyButton, Dialog, Empty, ErrorNote, useCursorList, when } from "../ui.jsx";

const EVENTS = [
  "connector.connected",
  "connector.updated",
  "connector.disconnected",
  "connector.restored",
  "connector.auth_failed",
  "connection.activated",
  "connection.unauthenticated",
  "connection.disconnected",
  "shop_integration.updated",
];

export function WebhooksPage({ cred }) {
  const list = useCursorList((q) => call(cred, "GET", `/v1/webhook_endpoints${cursorQuery(q)}`), []);
  const [dialog, setDialog] = useState(null);
  const close = () => {
    setDialog(null);
    list.reload();
  };
  return (
    <>
      <div class="toolbar">
        <button type="button" onClick={() => setDialog({ kind: "create" })}>
          Add webhook endpoint
        </button>
      </div>
      <ErrorNote error={list.error} />
      {!list.loading && list.data.length === 0 && !list.error && <Empty>No webhook endpoint yet. Add one to be told when a connector, connection or shop integration changes.</Empty>}
      {list.data.map((ep) => (
        <EndpointCard key={ep.id} cred={cred} endpoint={ep} onChanged={list.reload} openDialog={setDialog} />
      ))}
      {list.pager("webhook endpoints")}
      {dialog?.kind === "create" && <CreateEndpointDialog cred={cred} onDone={close} />}
      {dialog?.kind === "rotate" && <RotateDialog cred={cred} endpoint={dialog.endpoint} onDone={close} />}
      {dialog?.kind === "delete" && <DeleteDialog cred={cred} endpoint={dialog.endpoint} onDone={close} />}
      {dialog?.kind === "deliveries" && <DeliveriesDialog cred={cred} endpoint={dialog.endpoint} onDone={() => setDialog(null)} />}
    </>
  );
}

function EndpointCard({ cred, endpoint, onChanged, openDialog }) {
  const toggle = useAction(cred);
  async function flip() {
    const r = await toggle.run("PATCH", `/v1/webhook_endpoints/${endpoint.id}`, { status: endpoint.status === "active" ? "paused" : "active" });
    if (r.ok) onChanged();
  }
  return (
    <article class="card wide" aria-label={`Webhook endpoint ${endpoint.url}`}>
      <header>
        <h2 class="h3">
          <code>{endpoint.url}</code>
        </h2>
        <Badge tone={endpoint.status === "active" ? "ok" : "off"}>{endpoint.status}</Badge>
      </header>
      {endpoint.description && <p>{endpoint.description}</p>}
      <p class="small">Events: {endpoint.enabled_events.map((e) => (e === "*" ? "all events" : e)).join(", ")}</p>
      <p class="small muted">
        <code>{endpoint.id}</code> · created {when(endpoint.created_at)}
      </p>
      <ErrorNote error={toggle.error} />
      <div class="actions">
        <button type="button" onClick={() => openDialog({ kind: "deliveries", endpoint })}>
          Deliveries of {endpoint.url}
        </button>
        <ActionButton running={toggle.running} onClick={flip} label={`${endpoint.status === "active" ? "Pause" : "Resume"} ${endpoint.url}`} busyLabel="Saving…" />
        <button type="button" onClick={() => openDialog({ kind: "rotate", endpoint })}>
          Rotate secret of {endpoint.url}
        </button>
        <button type="button" class="danger" onClick={() => openDialog({ kind: "delete", endpoint })}>
          Delete {endpoint.url}
        </button>
      </div>
    </article>
  );
}

function SigningSecret({ secret, note, onDone }) {
  return (
    <>
      <p>
        <strong>Copy the signing secret now: it is shown this once.</strong> {note}
      </p>
      <p class="secret" aria-label="New signing secret">
        <code>{secret}</code>
      </p>
      <div class="actions">
        <CopyButton text={secret} label="Copy the signing secret" />
        <button type="button" onClick={onDone}>
          Done
        </button>
      </div>
    </>
  );
}

function CreateEndpointDialog({ cred, onDone }) {
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [all, setAll] = useState(false);
  const [events, setEvents] = useState(new Set());
  const [created, setCreated] = useState(null);
  const create = useAction(cred);
  async function submit(e) {
    e.preventDefault();
    const body = { url, enabled_events: all ? ["*"] : EVENTS.filter((x) => events.has(x)) };
    if (description) body.description = description;
    const r = await create.run("POST", "/v1/webhook_endpoints", body);
    if (r.ok) setCreated(r.result);
  }
  const f = create.error?.fields || {};
  return (
    <Dialog title={created ? "Webhook endpoint added" : "Add a webhook endpoint"} onClose={onDone}>
      {created ? (
        <SigningSecret secret={created.secret} note="Verify each delivery's signature with it." onDone={onDone} />
      ) : (
        <form onSubmit={submit} noValidate autocomplete="off">
          <Field label="Endpoint URL" help="An https:// address that answers 2xx." error={f.url} required>
            {(p) => <input {...p} name="url" type="url" value={url} onInput={(e) => setUrl(e.currentTarget.value)} />}
          </Field>
          <Field label="Description" error={f.description}>
            {(p) => <input {...p} name="description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />}
          </Field>
          <fieldset>
            <legend>Events</legend>
            <div class="check">
              <input type="checkbox" id="ev-all" checked={all} onChange={(e) => setAll(e.currentTarget.checked)} />
              <label for="ev-all">All events (*), including ones added later</label>
            </div>
            {!all &&
              EVENTS.map((ev) => (
                <div class="check" key={ev}>
                  <input
                    type="checkbox"
                    id={`ev-${ev}`}
                    checked={events.has(ev)}
                    onChange={(e) => {
                      const next = new Set(events);
                      if (e.currentTarget.checked) next.add(ev);
                      else next.delete(ev);
                      setEvents(next);
                    }}
                  />
                  <label for={`ev-${ev}`}>{ev}</label>
                </div>
              ))}
            {(f.enabled_events || Object.keys(f).find((k) => k.startsWith("enabled_events"))) && <p class="field-error">{f.enabled_events || f[Object.keys(f).find((k) => k.startsWith("enabled_events"))]}</p>}
          </fieldset>
          <ErrorNote error={create.error} skipFields={["url", "description", "events", ...Object.keys(f).filter((k) => k.startsWith("events"))]} />
          <div class="actions">
            <button type="button" onClick={onDone}>
              Cancel
            </button>
            <button type="submit" disabled={create.running}>
              {create.running ? "Adding…" : "Add the endpoint"}
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}

function RotateDialog({ cred, endpoint, onDone }) {
  const rotate = useAction(cred);
  const [result, setResult] = useState(null);
  async function confirm() {
    const r = await rotate.run("POST", `/v1/webhook_endpoints/${endpoint.id}/rotate_secret`);
    if (r.ok) setResult(r.result);
  }
  return (
    <Dialog title={result ? "Signing secret rotated" : `Rotate the signing secret of ${endpoint.url}?`} onClose={onDone}>
      {result ? (
        <SigningSecret secret={result.secret} note={`The old secret also signs until ${when(result.previous_secret_expires_at)}.`} onDone={onDone} />
      ) : (
        <>
          <p>A new secret signs every delivery from now on; the old one signs too for 24 hours, so you can switch your receiver over.</p>
          <ErrorNote error={rotate.error} />
          <div class="actions">
            <button type="button" onClick={onDone}>
              Cancel
            </button>
            <ActionButton running={rotate.running} onClick={confirm} label="Rotate the secret" busyLabel="Rotating…" />
          </div>
        </>
      )}
    </Dialog>
  );
}

function DeleteDialog({ cred, endpoint, onDone }) {
  const del = useAction(cred);
  async function confirm() {
    const r = await del.run("DELETE", `/v1/webhook_endpoints/${endpoint.id}`);
    if (r.ok) onDone();
  }
  return (
    <Dialog title={`Delete ${endpoint.url}?`} onClose={onDone}>
      <p>The endpoint, its secrets and its delivery log are deleted; nothing more is sent to it.</p>
      <ErrorNote error={del.error} />
      <div class="actions">
        <button type="button" onClick={onDone}>
          Cancel
        </button>
        <ActionButton running={del.running} onClick={confirm} class="danger" label={`Delete ${endpoint.url}`} busyLabel="Deleting…" />
      </div>
    </Dialog>
  );
}

function DeliveriesDialog({ cred, endpoint, onDone }) {
  const list = useCursorList((q) => call(cred, "GET", `/v1/webhook_endpoints/${endpoint.id}/deliveries${cursorQuery(q)}`), []);
  return (
    <Dialog title={`Deliveries of ${endpoint.url}`} onClose={onDone} wide>
      <ErrorNote error={list.error} />
      {!list.loading && list.data.length === 0 && <Empty>Nothing delivered yet. Deliveries appear here when a subscribed event happens, such as connecting a connector.</Empty>}
      {list.data.map((d) => (
        <Delivery key={d.id} cred={cred} endpoint={endpoint} delivery={d} onChanged={list.reload} />
      ))}
      {list.pager("deliveries")}
      <div class="actions">
        <button type="button" onClick={onDone}>
          Close
        </button>
      </div>
    </Dialog>
  );
}

function Delivery({ cred, endpoint, delivery, onChanged }) {
  const retry = useAction(cred);
  const last = delivery.attempts[delivery.attempts.length - 1];
  const tone = delivery.status === "succeeded" ? "ok" : delivery.status === "failed" ? "bad" : "warn";
  async function again() {
    const r = await retry.run("POST", `/v1/webhook_endpoints/${endpoint.id}/deliveries/${delivery.id}/retry`);
    if (r.ok) onChanged();
  }
  return (
    <details class="delivery">
      <summary>
        <Badge tone={tone}>{delivery.status}</Badge> {delivery.event_type} · {delivery.attempts.length} attempt{delivery.attempts.length === 1 ? "" : "s"}
        {last ? ` · ${last.latency_ms} ms` : ""} · {when(delivery.created_at)}
      </summary>
      <p class="small muted">
        Event <code>{delivery.event_id}</code>
        {delivery.next_attempt_at ? ` · next attempt ${when(delivery.next_attempt_at)}` : ""}
      </p>
      {delivery.attempts.length > 0 && (
        <table>
          <caption class="visually-hidden">Attempts</caption>
          <thead>
            <tr>
              <th scope="col">At</th>
              <th scope="col">Status code</th>
              <th scope="col">Latency</th>
              <th scope="col">Error</th>
            </tr>
          </thead>
          <tbody>
            {delivery.attempts.map((a, i) => (
              <tr key={i}>
                <td>{when(a.attempted_at)}</td>
                <td>{a.status_code ?? "—"}</td>
                <td>{a.latency_ms} ms</td>
                <td>{a.error ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorNote error={retry.error} />
      <ActionButton running={retry.running} onClick={again} label={`Retry delivery ${delivery.id}`} busyLabel="Retrying…" />
    </details>
  );
}
