// Customer connections: find a customer's connections, create one, mint a
// link URL (the hosted link page), simulate a lost login (sandbox) and
// disconnect.
import { useEffect, useState } from "preact/hooks";
import { call, useAction } from "../api.js";
import { Field } from "../schema-form.jsx";
import { ActionButton, Badge, CopyButton, Dialog, Empty, ErrorNote, usePages } from "../ui.jsx";

const TONES = { active: "ok", initialized: "warn", unauthenticated: "bad", disconnected: "off" };

export function ConnectionsPage({ cred }) {
  const [customer, setCustomer] = useState("");
  const [shownFor, setShownFor] = useState(null);
  const [connections, setConnections] = useState([]);
  const [retailers, setRetailers] = useState([]);
  const [error, setError] = useState(null);
  const [loading, setLoading] = useState(false);
  const [creating, setCreating] = useState(false);
  const { rows, pager } = usePages(connections);

  useEffect(() => {
    call(cred, "GET", "/retailers").then((r) => setRetailers(r.retailers), setError);
  }, []);
  async function find(id) {
    setLoading(true);
    setError(null);
    try {
      setConnections((await call(cred, "GET", `/connections?customer_id=${encodeURIComponent(id)}`)).connections);
      setShownFor(id);
    } catch (err) {
      setError(err);
    } finally {
      setLoading(false);
    }
  }
  const retailerName = (id) => retailers.find((r) => r.retailer_id === id)?.name ?? id;
  return (
    <>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          find(customer.trim());
        }}
      >
        <Field label="Customer ID" error={error?.fields?.customer_id}>
          {(p) => <input {...p} name="customer_id" required value={customer} onInput={(e) => setCustomer(e.currentTarget.value)} />}
        </Field>
        <button type="submit" disabled={loading || !customer.trim()}>
          {loading ? "Finding…" : "Find connections"}
        </button>
        <button type="button" onClick={() => setCreating(true)}>
          Create connection
        </button>
      </form>
      <ErrorNote error={error} skipFields={["customer_id"]} />
      {shownFor === null && <Empty>Type a customer ID to see that customer's connections, or create the first one.</Empty>}
      {shownFor !== null && connections.length === 0 && <Empty>Customer {shownFor} has no connection yet: create one, then send them its link URL.</Empty>}
      {rows.map((c) => (
        <ConnectionCard key={c.connection_id} cred={cred} connection={c} retailer={retailerName(c.retailer_id)} onChanged={() => find(shownFor)} />
      ))}
      {pager}
      {creating && (
        <CreateConnectionDialog
          cred={cred}
          retailers={retailers}
          customer={customer}
          onDone={(created) => {
            setCreating(false);
            if (created) {
              setCustomer(created.customer_id);
              find(created.customer_id);
            }
          }}
        />
      )}
    </>
  );
}

function ConnectionCard({ cred, connection, retailer, onChanged }) {
  const link = useAction(cred);
  const simulate = useAction(cred);
  const disconnect = useAction(cred);
  const [url, setUrl] = useState(null);
  const [dropError, setDropError] = useState(null);
  async function mint() {
    const r = await link.run("POST", `/connections/${connection.connection_id}/token`, { scope: "link" }, { idempotent: false });
    if (r.ok) setUrl(`${location.origin}/link?connection_token=${encodeURIComponent(r.result.connection_token)}`);
  }
  async function lose() {
    const r = await simulate.run("PATCH", `/simulated-connections/${connection.connection_id}`, { status: "unauthenticated" });
    if (r.ok) onChanged();
  }
  async function drop() {
    // PATCH /connections/{id} needs a connection token of scope access for this connection.
    setDropError(null);
    const token = await disconnect.run("POST", `/connections/${connection.connection_id}/token`, { scope: "access" }, { idempotent: false });
    if (!token.ok) return;
    try {
      await call({ ...cred, connectionToken: token.result.connection_token }, "PATCH", `/connections/${connection.connection_id}`, { body: { status: "disconnected" } });
      onChanged();
    } catch (err) {
      setDropError(err);
    }
  }
  return (
    <article class="card wide" aria-label={`Connection ${connection.connection_id}`}>
      <header>
        <h2 class="h3">
          {retailer} · <code>{connection.connection_id}</code>
        </h2>
        <Badge tone={TONES[connection.status]}>{connection.status}</Badge>
      </header>
      <p class="small">
        Customer <code>{connection.customer_id}</code>
        {connection.email ? ` · ${connection.email}` : ""}
      </p>
      {url && (
        <div class="linkbox">
          <p class="small">Link URL (valid 15 minutes, for this connection only): send it to the customer.</p>
          <p class="secret">
            <code>{url}</code>
          </p>
          <CopyButton text={url} label="Copy the link URL" />
        </div>
      )}
      <ErrorNote error={link.error || simulate.error || disconnect.error || dropError} />
      <div class="actions">
        {connection.status !== "disconnected" && <ActionButton running={link.running} onClick={mint} label={`Create link URL for ${connection.connection_id}`} busyLabel="Creating…" />}
        {connection.status === "active" && <ActionButton running={simulate.running} onClick={lose} label={`Simulate lost login for ${connection.connection_id}`} busyLabel="Simulating…" />}
        {connection.status !== "disconnected" && <ActionButton running={disconnect.running} class="danger" onClick={drop} label={`Disconnect ${connection.connection_id}`} busyLabel="Disconnecting…" />}
      </div>
    </article>
  );
}

function CreateConnectionDialog({ cred, retailers, customer, onDone }) {
  const [customerId, setCustomerId] = useState(customer);
  const [retailerId, setRetailerId] = useState(retailers[0]?.retailer_id ?? "");
  const [email, setEmail] = useState("");
  const create = useAction(cred);
  async function submit(e) {
    e.preventDefault();
    const body = { customer_id: customerId, retailer_id: retailerId };
    if (email) body.email = email;
    const r = await create.run("POST", "/connections", body);
    if (r.ok) onDone(r.result);
  }
  const f = create.error?.fields || {};
  return (
    <Dialog title="Create a connection" onClose={() => onDone(null)}>
      <form onSubmit={submit} noValidate autocomplete="off">
        <Field label="Customer ID" help="Your own id for the customer." error={f.customer_id} required>
          {(p) => <input {...p} name="customer_id" value={customerId} onInput={(e) => setCustomerId(e.currentTarget.value)} />}
        </Field>
        <Field label="Retailer" error={f.retailer_id} required>
          {(p) => (
            <select {...p} name="retailer_id" value={retailerId} onChange={(e) => setRetailerId(e.currentTarget.value)}>
              {retailers.map((r) => (
                <option key={r.retailer_id} value={r.retailer_id}>
                  {r.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Email" error={f.email}>
          {(p) => <input {...p} name="email" type="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />}
        </Field>
        <ErrorNote error={create.error} skipFields={["customer_id", "retailer_id", "email"]} />
        <div class="actions">
          <button type="button" onClick={() => onDone(null)}>
            Cancel
          </button>
          <button type="submit" disabled={create.running}>
            {create.running ? "Creating…" : "Create the connection"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
