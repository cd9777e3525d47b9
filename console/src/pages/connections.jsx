// Customer connections: find a customer's connections, create one, mint a
// link URL (the hosted link page), simulate a lost login (sandbox),
// disconnect, delete, read its purchases; the customer's durable link tokens.
import { useEffect, useRef, useState } from "preact/hooks";
import { call, useAction } from "../api.js";
import { Field } from "../schema-form.jsx";
import { ActionButton, Badge, CopyButton, Dialog, Empty, ErrorNote, Pager, usePages, when } from "../ui.jsx";

const TONES = { active: "ok", initialized: "warn", unauthenticated: "bad", disconnected: "off" };

export function ConnectionsPage({ cred }) {
  const [customer, setCustomer] = useState("");
  const [shownFor, setShownFor] = useState(null);
  const [connections, setConnections] = useState([]);
  const [retailers, setRetailers] = useState([]);
  const [error, setError] = useState(null);
  const [loading, setLoading] = useState(false);
  const [creating, setCreating] = useState(false);
  const [dialog, setDialog] = useState(null);
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
        <ConnectionCard key={c.connection_id} cred={cred} connection={c} retailer={retailerName(c.retailer_id)} onChanged={() => find(shownFor)} openDialog={setDialog} />
      ))}
      {pager}
      {shownFor !== null && <LinkTokens key={shownFor} cred={cred} customerId={shownFor} />}
      {dialog?.kind === "purchases" && <PurchasesDialog cred={cred} connection={dialog.connection} onDone={() => setDialog(null)} />}
      {dialog?.kind === "delete" && (
        <DeleteConnectionDialog
          cred={cred}
          connection={dialog.connection}
          onDone={(deleted) => {
            setDialog(null);
            if (deleted) find(shownFor);
          }}
        />
      )}
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

/**
 * The per-connection routes take a connection token of scope access besides
 * the key: one is minted for the call and kept in this closure only, never in
 * the page.
 */
async function withAccess(cred, connectionId) {
  const minted = await call(cred, "POST", `/connections/${connectionId}/token`, { body: { scope: "access" } });
  return { ...cred, connectionToken: minted.connection_token };
}

function ConnectionCard({ cred, connection, retailer, onChanged, openDialog }) {
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
        <button type="button" onClick={() => openDialog({ kind: "purchases", connection })}>
          Purchases of {connection.connection_id}
        </button>
        <button type="button" class="danger" onClick={() => openDialog({ kind: "delete", connection })}>
          Delete {connection.connection_id}
        </button>
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

/** A connection's purchases (GET /purchases with an access token for it), newest first, ten a page; a purchase opens with its items. */
function PurchasesDialog({ cred, connection, onDone }) {
  const access = useRef(null);
  const [cursors, setCursors] = useState([null]);
  const [page, setPage] = useState(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState(null);
  const [open, setOpen] = useState(null);
  const cursor = cursors[cursors.length - 1];
  // One access token for the dialog's calls; a new one when it has expired (15 minutes).
  async function get(path) {
    for (let tries = 0; ; tries++) {
      if (!access.current) access.current = await withAccess(cred, connection.connection_id);
      try {
        return await call(access.current, "GET", path);
      } catch (err) {
        if (err.status !== 401 || tries > 0) throw err;
        access.current = null;
      }
    }
  }
  async function load() {
    setLoading(true);
    try {
      setPage(await get(`/purchases?limit=10${cursor ? `&starting_after=${cursor}` : ""}`));
      setError(null);
    } catch (err) {
      setError(err);
    } finally {
      setLoading(false);
    }
  }
  useEffect(() => {
    load();
  }, [cursor]);
  async function show(id) {
    setOpen({ id, purchase: null });
    try {
      setOpen({ id, purchase: await get(`/purchases/${id}`) });
    } catch (err) {
      setOpen({ id, error: err });
    }
  }
  const rows = page?.purchases ?? [];
  return (
    <Dialog title={`Purchases of ${connection.connection_id}`} onClose={onDone} wide>
      <ErrorNote error={error} />
      {loading && <p aria-live="polite">Loading purchases…</p>}
      {!loading && !error && rows.length === 0 && (
        <Empty>{connection.status === "active" ? "No purchase synced yet: the first sync runs right after linking. Reload in a moment." : "No purchases: they are synced once the customer links the account through the link URL."}</Empty>
      )}
      {rows.map((p) => (
        <details
          key={p.purchase_id}
          class="purchase"
          open={open?.id === p.purchase_id}
          onToggle={(e) => {
            if (e.currentTarget.open && open?.id !== p.purchase_id) show(p.purchase_id);
          }}
        >
          <summary>
            {when(p.date)} · total {p.total}
          </summary>
          {open?.id === p.purchase_id && !open.purchase && !open.error && <p aria-live="polite">Loading the purchase…</p>}
          <ErrorNote error={open?.id === p.purchase_id ? open.error : null} />
          {open?.id === p.purchase_id && open.purchase && (
            <>
              <p class="small">
                Subtotal {open.purchase.subtotal} · tax {open.purchase.tax} · {open.purchase.item_count} item{open.purchase.item_count === 1 ? "" : "s"}
              </p>
              <table>
                <caption class="visually-hidden">Items of purchase {p.purchase_id}</caption>
                <thead>
                  <tr>
                    <th scope="col">Product</th>
                    <th scope="col">Quantity</th>
                    <th scope="col">Price</th>
                  </tr>
                </thead>
                <tbody>
                  {open.purchase.items.map((item) => (
                    <tr key={item.item_id}>
                      <td>{item.product.name ?? item.product.description ?? "—"}</td>
                      <td>{item.quantity}</td>
                      <td>{item.price}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </details>
      ))}
      <Pager
        label="purchases"
        busy={loading}
        hasPrev={cursors.length > 1}
        hasNext={Boolean(page?.has_more) && rows.length > 0}
        onPrev={() => setCursors(cursors.slice(0, -1))}
        onNext={() => setCursors([...cursors, rows[rows.length - 1].purchase_id])}
        status={`Page ${cursors.length}`}
      />
      <div class="actions">
        <ActionButton running={loading} onClick={load} label="Reload purchases" busyLabel="Loading…" />
        <button type="button" onClick={onDone}>
          Close
        </button>
      </div>
    </Dialog>
  );
}

function DeleteConnectionDialog({ cred, connection, onDone }) {
  const [running, setRunning] = useState(false);
  const [error, setError] = useState(null);
  async function confirm() {
    setRunning(true);
    setError(null);
    try {
      await call(await withAccess(cred, connection.connection_id), "DELETE", `/connections/${connection.connection_id}`);
      onDone(true);
    } catch (err) {
      setError(err);
      setRunning(false);
    }
  }
  return (
    <Dialog title={`Delete ${connection.connection_id}?`} onClose={() => onDone(false)}>
      <p>The connection, its stored login and its purchases are deleted at once; there is no recovery window. Your webhooks get connection.deleted.</p>
      <ErrorNote error={error} />
      <div class="actions">
        <button type="button" onClick={() => onDone(false)}>
          Cancel
        </button>
        <ActionButton running={running} onClick={confirm} class="danger" label={`Delete ${connection.connection_id}`} busyLabel="Deleting…" />
      </div>
    </Dialog>
  );
}

const LINK_DAYS = [7, 30, 90, 365];

/** The customer's durable link tokens (/link-tokens): list, create (its link URL shown once), revoke. */
function LinkTokens({ cred, customerId }) {
  const [tokens, setTokens] = useState(null);
  const [error, setError] = useState(null);
  const [days, setDays] = useState("30");
  const [created, setCreated] = useState(null);
  const create = useAction(cred);
  const { rows, pager } = usePages(tokens ?? [], 5);
  async function reload() {
    try {
      setTokens((await call(cred, "GET", `/link-tokens?customer_id=${encodeURIComponent(customerId)}`)).link_tokens.slice().reverse());
      setError(null);
    } catch (err) {
      setError(err);
    }
  }
  useEffect(() => {
    reload();
  }, []);
  async function submit(e) {
    e.preventDefault();
    const r = await create.run("POST", "/link-tokens", { customer_id: customerId, expires_in_days: Number(days) });
    if (!r.ok) return;
    setCreated(`${location.origin}/link?link_token=${encodeURIComponent(r.result.link_token)}`);
    reload();
  }
  return (
    <section aria-labelledby="link-tokens-title">
      <h2 id="link-tokens-title">Link tokens of {customerId}</h2>
      <p class="muted small">A link token lets the customer link any retailer (and re-link later) for days, not 15 minutes: put its link URL in your app or an email.</p>
      <form class="toolbar" onSubmit={submit}>
        <Field label="Valid for" error={create.error?.fields?.expires_in_days}>
          {(p) => (
            <select {...p} name="expires_in_days" value={days} onChange={(e) => setDays(e.currentTarget.value)}>
              {LINK_DAYS.map((d) => (
                <option key={d} value={String(d)}>
                  {d} days
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit" disabled={create.running}>
          {create.running ? "Creating…" : `Create a link token for ${customerId}`}
        </button>
      </form>
      <ErrorNote error={create.error} skipFields={["expires_in_days"]} />
      {created && (
        <div class="linkbox">
          <p class="small">
            <strong>Copy the link URL now: it is shown this once.</strong>
          </p>
          <p class="secret">
            <code>{created}</code>
          </p>
          <div class="actions">
            <CopyButton text={created} label="Copy the link token URL" />
            <button type="button" onClick={() => setCreated(null)}>
              Done with the link token URL
            </button>
          </div>
        </div>
      )}
      <ErrorNote error={error} />
      {tokens && tokens.length === 0 && <Empty>No link token for {customerId} yet: create one to give the customer a lasting link URL.</Empty>}
      {rows.length > 0 && (
        <table>
          <caption class="visually-hidden">Link tokens of {customerId}</caption>
          <thead>
            <tr>
              <th scope="col">Token</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              <th scope="col">State</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((t) => (
              <LinkTokenRow key={t.link_token_id} cred={cred} token={t} onChanged={reload} />
            ))}
          </tbody>
        </table>
      )}
      {pager}
    </section>
  );
}

function LinkTokenRow({ cred, token, onChanged }) {
  const revoke = useAction(cred);
  const revoked = token.revoked_at !== null;
  const expired = !revoked && new Date(token.expires_at).getTime() <= Date.now();
  async function go() {
    const r = await revoke.run("DELETE", `/link-tokens/${token.link_token_id}`);
    if (r.ok) onChanged();
  }
  return (
    <tr>
      <td>
        <code>{token.link_token_id}</code>
      </td>
      <td>{when(token.expires_at)}</td>
      <td>{when(token.last_used_at)}</td>
      <td>
        <Badge tone={revoked || expired ? "off" : "ok"}>{revoked ? "revoked" : expired ? "expired" : "valid"}</Badge>
      </td>
      <td class="actions">
        {!revoked && !expired && <ActionButton running={revoke.running} class="danger" onClick={go} label={`Revoke link token ${token.link_token_id}`} busyLabel="Revoking…" />}
        <ErrorNote error={revoke.error} />
      </td>
    </tr>
  );
}
