// Developers › Webhooks: endpoints (create with event families and wildcards,
// pause/resume, send a test event, rotate the signing secret, delete) and each
// endpoint's deliveries (status, latency, attempts with the body delivered;
// retry one).
import { useEffect, useState } from "preact/hooks";
import { bodySchema, call, cursorQuery, openapi, useAction } from "../api.js";
import { Field } from "../schema-form.jsx";
import { ActionButton, Badge, CopyButton, Dialog, Empty, ErrorNote, useCursorList, when } from "../ui.jsx";

// What this build knows; the server's list (POST /v1/webhook_endpoints' enabled_events, in its OpenAPI document) replaces it when read.
const KNOWN_EVENTS = [
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

/** The event types the server accepts, grouped by family ("connector" → ["connector.connected", …]). */
function useEventFamilies() {
  const [events, setEvents] = useState(KNOWN_EVENTS);
  useEffect(() => {
    openapi().then(
      (doc) => {
        const names = bodySchema(doc, "/v1/webhook_endpoints", "post")?.properties?.enabled_events?.items?.enum;
        const types = (names ?? []).filter((n) => n !== "*" && !n.endsWith(".*"));
        if (types.length) setEvents(types);
      },
      () => undefined,
    );
  }, []);
  const families = new Map();
  for (const e of events) {
    const family = e.slice(0, e.indexOf("."));
    if (!families.has(family)) families.set(family, []);
    families.get(family).push(e);
  }
  return families;
}

const STATUS_TONES = { active: "ok", paused: "warn", disabled: "off" };
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
  const test = useAction(cred);
  const [tested, setTested] = useState(null);
  async function flip() {
    const r = await toggle.run("PATCH", `/v1/webhook_endpoints/${endpoint.id}`, { status: endpoint.status === "active" ? "paused" : "active" });
    if (r.ok) onChanged();
  }
  async function sendTest() {
    setTested(null);
    const r = await test.run("POST", `/v1/webhook_endpoints/${endpoint.id}/send_test_event`);
    if (r.ok) setTested(r.result);
  }
  return (
    <article class="card wide" aria-label={`Webhook endpoint ${endpoint.url}`}>
      <header>
        <h2 class="h3">
          <code>{endpoint.url}</code>
        </h2>
        <Badge tone={STATUS_TONES[endpoint.status] ?? "off"}>{endpoint.status}</Badge>
      </header>
      {endpoint.description && <p>{endpoint.description}</p>}
      <p class="small">Events: {endpoint.enabled_events.map((e) => (e === "*" ? "all events" : e.endsWith(".*") ? `every ${e.slice(0, -2)} event` : e)).join(", ")}</p>
      <p class="small">
        {endpoint.mode} mode · {endpoint.success_count} delivered, {endpoint.failure_count} failed
        {endpoint.consecutive_failure_count > 0 ? ` (${endpoint.consecutive_failure_count} in a row)` : ""}
        {endpoint.last_delivery_at ? ` · last delivery ${when(endpoint.last_delivery_at)}` : ""}
        {endpoint.secret_last4 ? ` · secret ends in ${endpoint.secret_last4}` : ""}
      </p>
      <p class="small muted">
        <code>{endpoint.id}</code> · created {when(endpoint.created_at)}
      </p>
      {tested && (
        <p role="status" class="small">
          A webhook.test event is queued to this endpoint: its delivery appears under Deliveries in a moment.
        </p>
      )}
      <ErrorNote error={toggle.error || test.error} />
      <div class="actions">
        <button type="button" onClick={() => openDialog({ kind: "deliveries", endpoint })}>
          Deliveries of {endpoint.url}
        </button>
        {endpoint.status === "active" && <ActionButton running={test.running} onClick={sendTest} label={`Send a test event to ${endpoint.url}`} busyLabel="Sending…" />}
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
  const families = useEventFamilies();
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [all, setAll] = useState(false);
  // Chosen names: whole families ("connector.*") and single event types.
  const [events, setEvents] = useState(new Set());
  const [created, setCreated] = useState(null);
  const create = useAction(cred);
  const toggle = (name, on) => {
    const next = new Set(events);
    if (on) next.add(name);
    else next.delete(name);
    setEvents(next);
  };
  async function submit(e) {
    e.preventDefault();
    const chosen = [];
    for (const [family, types] of families) {
      if (events.has(`${family}.*`)) chosen.push(`${family}.*`);
      else chosen.push(...types.filter((t) => events.has(t)));
    }
    const body = { url, enabled_events: all ? ["*"] : chosen };
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
              [...families].map(([family, types]) => {
                const whole = events.has(`${family}.*`);
                return (
                  <fieldset key={family} class="family">
                    <legend class="visually-hidden">{family} events</legend>
                    <div class="check">
                      <input type="checkbox" id={`ev-${family}-all`} checked={whole} onChange={(e) => toggle(`${family}.*`, e.currentTarget.checked)} />
                      <label for={`ev-${family}-all`}>
                        Every {family} event ({family}.*)
                      </label>
                    </div>
                    {!whole && (
                      <div class="checks">
                        {types.map((ev) => (
                          <div class="check" key={ev}>
                            <input type="checkbox" id={`ev-${ev}`} checked={events.has(ev)} onChange={(e) => toggle(ev, e.currentTarget.checked)} />
                            <label for={`ev-${ev}`}>{ev}</label>
                          </div>
                        ))}
                      </div>
                    )}
                  </fieldset>
                );
              })}
            {(f.enabled_events || Object.keys(f).find((k) => k.startsWith("enabled_events"))) && <p class="field-error">{f.enabled_events || f[Object.keys(f).find((k) => k.startsWith("enabled_events"))]}</p>}
          </fieldset>
          <ErrorNote error={create.error} skipFields={["url", "description", "enabled_events", ...Object.keys(f).filter((k) => k.startsWith("enabled_events") || k.startsWith("events"))]} />
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
  const body = prettyBody([...delivery.attempts].reverse().find((a) => a.request_body)?.request_body);
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
      {body !== null && (
        <details class="body">
          <summary>Delivered body of {delivery.event_type}</summary>
          <pre tabIndex={0} aria-label={`Body delivered for ${delivery.event_type}`}>{body}</pre>
        </details>
      )}
      <ErrorNote error={retry.error} />
      <ActionButton running={retry.running} onClick={again} label={`Retry delivery ${delivery.id}`} busyLabel="Retrying…" />
    </details>
  );
}

/** A delivered body, indented when it is JSON (events are); null when the API kept none. */
function prettyBody(text) {
  if (!text) return null;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
