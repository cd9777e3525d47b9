// Connection webhooks: the entity's Subtotal-format webhook destinations
// (/webhooks): list, add (the signing secret shown once), delete with
// confirmation, and send simulated events to those that accept them.
import { useEffect, useState } from "preact/hooks";
import { bodySchema, call, openapi, useAction } from "../api.js";
import { Field } from "../schema-form.jsx";
import { ActionButton, CopyButton, Dialog, Empty, ErrorNote, usePages, when } from "../ui.jsx";

// The event types POST /webhooks accepts, read from the OpenAPI document the server serves (one source of truth).
async function eventTypes() {
  return bodySchema(await openapi(), "/webhooks", "post").properties.events.items.enum;
}

export function DestinationsPage({ cred }) {
  const [destinations, setDestinations] = useState(null);
  const [events, setEvents] = useState([]);
  const [error, setError] = useState(null);
  const [dialog, setDialog] = useState(null);
  const [simulated, setSimulated] = useState(null);
  const simulate = useAction(cred);
  const { rows, pager } = usePages(destinations ?? []);
  async function reload() {
    try {
      setDestinations((await call(cred, "GET", "/webhooks")).webhooks.slice().reverse());
      setError(null);
    } catch (err) {
      setError(err);
    }
  }
  useEffect(() => {
    reload();
    eventTypes().then(setEvents, setError);
  }, []);
  async function sendSimulated() {
    setSimulated(null);
    const r = await simulate.run("POST", "/webhooks/simulate", {});
    if (r.ok) setSimulated(r.result.events);
  }
  const close = () => {
    setDialog(null);
    reload();
  };
  return (
    <>
      <p class="muted">Where Patchbay POSTs customer-connection events (connections and purchases), signed with X-Subtotal-Signature. Connector events go to Developers › Webhooks.</p>
      <div class="toolbar">
        <button type="button" onClick={() => setDialog({ kind: "create" })} disabled={events.length === 0}>
          Add webhook destination
        </button>
        <ActionButton running={simulate.running} onClick={sendSimulated} label="Send simulated events" busyLabel="Sending…" />
      </div>
      {simulated && (
        <p role="status" class="small">
          {simulated.length} simulated event{simulated.length === 1 ? "" : "s"} queued ({simulated.map((e) => e.type).join(", ")}) for the destinations that accept simulated events.
        </p>
      )}
      <ErrorNote error={simulate.error || error} />
      {destinations && destinations.length === 0 && <Empty>No webhook destination yet. Add one to be told when a customer links, loses or deletes a connection, or makes a purchase.</Empty>}
      {rows.map((d) => (
        <article key={d.destination_id} class="card wide" aria-label={`Webhook destination ${d.name}`}>
          <header>
            <h2 class="h3">{d.name}</h2>
          </header>
          <p class="small">
            <code>{d.url}</code>
          </p>
          <p class="small">Events: {d.events.join(", ")}</p>
          <p class="small muted">
            <code>{d.destination_id}</code> · {d.accepts_simulated_events ? "accepts simulated events" : "live events only"} · created {when(d.created_at)}
          </p>
          <div class="actions">
            <button type="button" class="danger" onClick={() => setDialog({ kind: "delete", destination: d })}>
              Delete destination {d.name}
            </button>
          </div>
        </article>
      ))}
      {pager}
      {dialog?.kind === "create" && <CreateDestinationDialog cred={cred} events={events} onDone={close} />}
      {dialog?.kind === "delete" && <DeleteDestinationDialog cred={cred} destination={dialog.destination} onDone={close} />}
    </>
  );
}

function CreateDestinationDialog({ cred, events, onDone }) {
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [chosen, setChosen] = useState(new Set(events));
  const [acceptsSimulated, setAcceptsSimulated] = useState(true);
  const [created, setCreated] = useState(null);
  const create = useAction(cred);
  async function submit(e) {
    e.preventDefault();
    const r = await create.run("POST", "/webhooks", { name, url, events: events.filter((x) => chosen.has(x)), accepts_simulated_events: acceptsSimulated });
    if (r.ok) setCreated(r.result);
  }
  const f = create.error?.fields || {};
  const eventError = f.events || Object.entries(f).find(([k]) => k.startsWith("events"))?.[1];
  return (
    <Dialog title={created ? "Webhook destination added" : "Add a webhook destination"} onClose={onDone}>
      {created ? (
        <>
          <p>
            <strong>Copy the signing secret now: it is shown this once.</strong> Verify each delivery's X-Subtotal-Signature with it.
          </p>
          <p class="secret" aria-label="New signing secret">
            <code>{created.signing_secret}</code>
          </p>
          <div class="actions">
            <CopyButton text={created.signing_secret} label="Copy the signing secret" />
            <button type="button" onClick={onDone}>
              Done
            </button>
          </div>
        </>
      ) : (
        <form onSubmit={submit} noValidate autocomplete="off">
          <Field label="Name" error={f.name} required>
            {(p) => <input {...p} name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} />}
          </Field>
          <Field label="Destination URL" help="An https:// address that answers 2xx." error={f.url} required>
            {(p) => <input {...p} name="url" type="url" value={url} onInput={(e) => setUrl(e.currentTarget.value)} />}
          </Field>
          <fieldset>
            <legend>Events</legend>
            {events.map((ev) => (
              <div class="check" key={ev}>
                <input
                  type="checkbox"
                  id={`dest-ev-${ev}`}
                  checked={chosen.has(ev)}
                  onChange={(e) => {
                    const next = new Set(chosen);
                    if (e.currentTarget.checked) next.add(ev);
                    else next.delete(ev);
                    setChosen(next);
                  }}
                />
                <label for={`dest-ev-${ev}`}>{ev}</label>
              </div>
            ))}
            {eventError && <p class="field-error">{eventError}</p>}
          </fieldset>
          <div class="check">
            <input type="checkbox" id="dest-simulated" checked={acceptsSimulated} onChange={(e) => setAcceptsSimulated(e.currentTarget.checked)} />
            <label for="dest-simulated">Accept simulated events (Send simulated events)</label>
          </div>
          <ErrorNote error={create.error} skipFields={["name", "url", "events", "accepts_simulated_events", ...Object.keys(f).filter((k) => k.startsWith("events"))]} />
          <div class="actions">
            <button type="button" onClick={onDone}>
              Cancel
            </button>
            <button type="submit" disabled={create.running}>
              {create.running ? "Adding…" : "Add the destination"}
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}

function DeleteDestinationDialog({ cred, destination, onDone }) {
  const del = useAction(cred);
  async function confirm() {
    const r = await del.run("DELETE", `/webhooks/${destination.destination_id}`);
    if (r.ok) onDone();
  }
  return (
    <Dialog title={`Delete destination ${destination.name}?`} onClose={onDone}>
      <p>The destination, its signing secret and its queued deliveries are deleted; nothing more is sent to {destination.url}.</p>
      <ErrorNote error={del.error} />
      <div class="actions">
        <button type="button" onClick={onDone}>
          Cancel
        </button>
        <ActionButton running={del.running} onClick={confirm} class="danger" label={`Delete destination ${destination.name}`} busyLabel="Deleting…" />
      </div>
    </Dialog>
  );
}
