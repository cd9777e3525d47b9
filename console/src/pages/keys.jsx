// Developers › API keys (operators, admin token): an entity's keys with a mode
// filter and search, create (the secret shown once), roll with an overlap,
// revoke with confirmation.
import { useEffect, useState } from "preact/hooks";
import { bodySchema, call, openapi, useAction } from "../api.js";
import { Field } from "../schema-form.jsx";
import { ActionButton, Badge, CopyButton, Dialog, Empty, ErrorNote, usePages, when } from "../ui.jsx";
import { EntityPicker } from "./entities.jsx";

// The scope vocabulary as this build knows it; the server's own list (from its OpenAPI document) replaces it when read.
const KNOWN_SCOPES = ["integrations:read", "integrations:write", "integrations:proxy", "connections:read", "connections:write", "webhooks:manage", "audit:read"];
const CREATE_PATH = "/admin/v1/entities/{entity_id}/api-keys";

/** The scopes and live rate-limit tiers POST …/api-keys accepts, read from the server's OpenAPI document. */
function useKeyVocabulary() {
  const [vocab, setVocab] = useState({ scopes: KNOWN_SCOPES, tiers: ["standard", "elevated"] });
  useEffect(() => {
    openapi().then(
      (doc) => {
        const body = bodySchema(doc, CREATE_PATH, "post");
        const scopes = body?.properties?.scopes?.items?.description?.split(/,\s*/).filter((s) => /^[a-z_]+:[a-z_]+$/.test(s));
        const tiers = body?.properties?.rate_limit_tier?.enum;
        setVocab({ scopes: scopes?.length ? scopes : KNOWN_SCOPES, tiers: tiers?.length ? tiers : ["standard", "elevated"] });
      },
      () => undefined,
    );
  }, []);
  return vocab;
}

const TIER_LABELS = { standard: "Standard (the live default)", elevated: "Elevated: higher limits for bulk jobs" };

/** When a key was last used: the API's last_used_at (recorded in batches, so a few seconds late). */
function lastUse(k) {
  if (!("last_used_at" in k)) return "—";
  return k.last_used_at ? when(k.last_used_at) : "never";
}
const OVERLAPS = [
  { seconds: 0, label: "None: the old secret stops at once" },
  { seconds: 3600, label: "1 hour" },
  { seconds: 86_400, label: "24 hours" },
  { seconds: 604_800, label: "7 days" },
];
const ENTITY_STORE = "patchbay.console.entity";

export function KeysPage({ cred, onSwitch }) {
  const [entityId, setEntityId] = useState(sessionStorage.getItem(ENTITY_STORE) || "");
  const [keys, setKeys] = useState(null);
  const [error, setError] = useState(null);
  const [mode, setMode] = useState("all");
  const [search, setSearch] = useState("");
  const [dialog, setDialog] = useState(null);

  async function reload() {
    if (!entityId) return;
    try {
      setKeys((await call(cred, "GET", `/admin/v1/entities/${entityId}/api-keys`)).data);
      setError(null);
    } catch (err) {
      setError(err);
    }
  }
  useEffect(() => {
    if (entityId) sessionStorage.setItem(ENTITY_STORE, entityId);
    setKeys(null);
    reload();
  }, [entityId]);

  const needle = search.trim().toLowerCase();
  const shown = (keys || [])
    .filter((k) => mode === "all" || k.mode === mode)
    .filter((k) => !needle || [k.name, k.key_prefix, k.public_key, k.id, ...k.scopes].some((s) => s.toLowerCase().includes(needle)))
    .reverse();
  const { rows, pager } = usePages(shown);

  return (
    <>
      <EntityPicker cred={cred} value={entityId} onChange={setEntityId} />
      <div class="toolbar">
        <Field label="Mode">
          {(p) => (
            <select {...p} value={mode} onChange={(e) => setMode(e.currentTarget.value)}>
              <option value="all">All modes</option>
              <option value="live">Live</option>
              <option value="test">Test</option>
            </select>
          )}
        </Field>
        <Field label="Search keys">
          {(p) => <input {...p} type="search" placeholder="Name, prefix, scope…" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />}
        </Field>
        <button type="button" disabled={!entityId} onClick={() => setDialog({ kind: "create" })}>
          Create API key
        </button>
      </div>
      <ErrorNote error={error} />
      {keys && shown.length === 0 && <Empty>{keys.length === 0 ? "This entity has no API key yet: create one to connect its first connector." : "No key matches the filter."}</Empty>}
      {shown.length > 0 && (
        <div class="table-wrap">
          <table class="stack">
            <caption class="visually-hidden">API keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Mode</th>
                <th scope="col">Prefix</th>
                <th scope="col">Scopes</th>
                <th scope="col">Rate limit</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((k) => {
                const ends = k.revoked_at ? new Date(k.revoked_at) : null;
                const live = !ends || ends.getTime() > Date.now();
                return (
                  <tr key={k.id}>
                    <td data-label="Name">{k.name}</td>
                    <td data-label="Mode">
                      <Badge tone={k.mode === "test" ? "warn" : "ok"}>{k.mode}</Badge>
                    </td>
                    <td data-label="Prefix">
                      <code>{k.key_prefix}…</code>
                    </td>
                    <td data-label="Scopes" class="small">{k.scopes.join(", ")}</td>
                    <td data-label="Rate limit" class="small">
                      {k.rate_limit_tier ?? "custom"}: {k.rate_limit.per_minute}/min, burst {k.rate_limit.burst}
                    </td>
                    <td data-label="Created">{when(k.created_at)}</td>
                    <td data-label="Last used">{lastUse(k)}</td>
                    <td data-label="State">{!ends ? <Badge tone="ok">active</Badge> : live ? <Badge tone="warn">expires {when(k.revoked_at)}</Badge> : <Badge tone="off">revoked</Badge>}</td>
                    <td data-label="Actions" class="actions">
                      {live && (
                        <>
                          <button type="button" onClick={() => setDialog({ kind: "roll", key: k })}>
                            Roll key {k.name}
                          </button>
                          <button type="button" class="danger" onClick={() => setDialog({ kind: "revoke", key: k })}>
                            Revoke key {k.name}
                          </button>
                        </>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {pager}
      {dialog?.kind === "create" && <CreateKeyDialog cred={cred} entityId={entityId} onSwitch={onSwitch} onDone={() => { setDialog(null); reload(); }} />}
      {dialog?.kind === "roll" && <RollKeyDialog cred={cred} apiKey={dialog.key} onSwitch={onSwitch} onDone={() => { setDialog(null); reload(); }} />}
      {dialog?.kind === "revoke" && <RevokeKeyDialog cred={cred} apiKey={dialog.key} onDone={() => { setDialog(null); reload(); }} />}
    </>
  );
}

/** The one time a secret is shown: copy it, or sign in with it. */
function SecretOnce({ created, onSwitch, onDone }) {
  return (
    <>
      <p>
        <strong>Copy the secret now: Patchbay keeps only its hash and shows it this once.</strong>
      </p>
      <p class="secret" aria-label="New API key secret">
        <code>{created.key}</code>
      </p>
      <p class="small">
        Public key (for HTTP Basic on /api/v3): <code>{created.public_key}</code>
      </p>
      <div class="actions">
        <CopyButton text={created.key} label="Copy the secret" />
        <button type="button" onClick={() => onSwitch({ kind: "entity", key: created.key, publicKey: created.public_key, keyId: created.id, scopes: created.scopes })}>
          Sign in with this key
        </button>
        <button type="button" onClick={onDone}>
          Done
        </button>
      </div>
    </>
  );
}

function CreateKeyDialog({ cred, entityId, onSwitch, onDone }) {
  const vocab = useKeyVocabulary();
  const [name, setName] = useState("");
  const [mode, setMode] = useState("test");
  const [scopes, setScopes] = useState(null);
  const [tier, setTier] = useState("default");
  const [perMinute, setPerMinute] = useState("");
  const [burst, setBurst] = useState("");
  const [created, setCreated] = useState(null);
  const create = useAction(cred);
  // Every scope is ticked until the user changes the set.
  const chosen = scopes ?? new Set(vocab.scopes);
  async function submit(e) {
    e.preventDefault();
    const body = { name, mode, scopes: vocab.scopes.filter((s) => chosen.has(s)) };
    if (tier === "custom") {
      const rate = {};
      if (perMinute) rate.per_minute = Number(perMinute);
      if (burst) rate.burst = Number(burst);
      if (Object.keys(rate).length) body.rate_limit = rate;
    } else if (tier !== "default" && mode === "live") body.rate_limit_tier = tier;
    const r = await create.run("POST", `/admin/v1/entities/${entityId}/api-keys`, body, { idempotent: false });
    if (r.ok) setCreated(r.result);
  }
  const f = create.error?.fields || {};
  return (
    <Dialog title={created ? `API key ${created.name} created` : "Create an API key"} onClose={onDone}>
      {created ? (
        <SecretOnce created={created} onSwitch={onSwitch} onDone={onDone} />
      ) : (
        <form onSubmit={submit} autocomplete="off" noValidate>
          <Field label="Name" help="What uses this key, such as “billing service”." error={f.name} required>
            {(p) => <input {...p} name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} />}
          </Field>
          <Field label="Mode" help="A test key reaches sandboxes and test data only." error={f.mode}>
            {(p) => (
              <select {...p} name="mode" value={mode} onChange={(e) => setMode(e.currentTarget.value)}>
                <option value="test">Test</option>
                <option value="live">Live</option>
              </select>
            )}
          </Field>
          <fieldset>
            <legend>Scopes</legend>
            {vocab.scopes.map((s) => (
              <div class="check" key={s}>
                <input
                  type="checkbox"
                  id={`scope-${s}`}
                  checked={chosen.has(s)}
                  onChange={(e) => {
                    const next = new Set(chosen);
                    if (e.currentTarget.checked) next.add(s);
                    else next.delete(s);
                    setScopes(next);
                  }}
                />
                <label for={`scope-${s}`}>{s}</label>
              </div>
            ))}
            {f.scopes && <p class="field-error">{f.scopes}</p>}
          </fieldset>
          <Field label="Rate-limit tier" help={mode === "test" ? "Test keys have the test tier unless you set a limit of their own." : "Requests per minute and per second this key may make."} error={f.rate_limit_tier}>
            {(p) => (
              <select {...p} name="rate_limit_tier" value={tier} onChange={(e) => setTier(e.currentTarget.value)}>
                <option value="default">{mode === "test" ? "Test (the test default)" : TIER_LABELS.standard}</option>
                {mode === "live" &&
                  vocab.tiers
                    .filter((t) => t !== "standard")
                    .map((t) => (
                      <option key={t} value={t}>
                        {TIER_LABELS[t] ?? t}
                      </option>
                    ))}
                <option value="custom">A limit of its own…</option>
              </select>
            )}
          </Field>
          {tier === "custom" && (
            <fieldset>
              <legend>The key's own limit</legend>
              <Field label="Requests per minute" error={f["rate_limit.per_minute"]}>
                {(p) => <input {...p} name="per_minute" type="number" min="1" value={perMinute} onInput={(e) => setPerMinute(e.currentTarget.value)} />}
              </Field>
              <Field label="Burst per second" error={f["rate_limit.burst"]}>
                {(p) => <input {...p} name="burst" type="number" min="1" value={burst} onInput={(e) => setBurst(e.currentTarget.value)} />}
              </Field>
              {f.rate_limit && <p class="field-error">{f.rate_limit}</p>}
            </fieldset>
          )}
          <ErrorNote error={create.error} skipFields={["name", "mode", "scopes", "rate_limit_tier", "rate_limit", "rate_limit.per_minute", "rate_limit.burst"]} />
          <div class="actions">
            <button type="button" onClick={onDone}>
              Cancel
            </button>
            <button type="submit" disabled={create.running}>
              {create.running ? "Creating…" : "Create the key"}
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}

function RollKeyDialog({ cred, apiKey, onSwitch, onDone }) {
  const [overlap, setOverlap] = useState(86_400);
  const [created, setCreated] = useState(null);
  const roll = useAction(cred);
  async function confirm() {
    const r = await roll.run("POST", `/admin/v1/api-keys/${apiKey.id}/roll`, { overlap_seconds: Number(overlap) }, { idempotent: false });
    if (r.ok) setCreated(r.result);
  }
  return (
    <Dialog title={created ? `Key ${apiKey.name} rolled` : `Roll key ${apiKey.name}?`} onClose={onDone}>
      {created ? (
        <SecretOnce created={created} onSwitch={onSwitch} onDone={onDone} />
      ) : (
        <>
          <p>A new secret with the same name, mode, scopes and rate limit replaces this one. The old secret keeps working for the overlap you choose, so you can deploy the new one first.</p>
          <Field label="Overlap">
            {(p) => (
              <select {...p} value={overlap} onChange={(e) => setOverlap(e.currentTarget.value)}>
                {OVERLAPS.map((o) => (
                  <option value={o.seconds} key={o.seconds}>
                    {o.label}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <ErrorNote error={roll.error} />
          <div class="actions">
            <button type="button" onClick={onDone}>
              Cancel
            </button>
            <ActionButton running={roll.running} onClick={confirm} label={`Roll key ${apiKey.name}`} busyLabel="Rolling…" />
          </div>
        </>
      )}
    </Dialog>
  );
}

function RevokeKeyDialog({ cred, apiKey, onDone }) {
  const revoke = useAction(cred);
  async function confirm() {
    const r = await revoke.run("DELETE", `/admin/v1/api-keys/${apiKey.id}`);
    if (r.ok) onDone();
  }
  return (
    <Dialog title={`Revoke key ${apiKey.name}?`} onClose={onDone}>
      <p>Every request with this key fails from now on, in every process. This cannot be undone.</p>
      <ErrorNote error={revoke.error} />
      <div class="actions">
        <button type="button" onClick={onDone}>
          Cancel
        </button>
        <ActionButton running={revoke.running} onClick={confirm} class="danger" label={`Revoke key ${apiKey.name}`} busyLabel="Revoking…" />
      </div>
    </Dialog>
  );
}
