// The Patchbay console: a client of the public APIs and nothing more. Every
// rule lives in the server; these pages call the same endpoints a script
// would, with the entity API key or the admin token typed in at sign-in
// (kept in this tab's session storage only).
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { call, session } from "./api.js";
import { ApiLogsPage } from "./pages/api-logs.jsx";
import { AuditPage } from "./pages/audit.jsx";
import { CollectionPage } from "./pages/collection.jsx";
import { ConnectionsPage } from "./pages/connections.jsx";
import { ConnectorsPage } from "./pages/connectors.jsx";
import { DestinationsPage } from "./pages/destinations.jsx";
import { EntitiesPage } from "./pages/entities.jsx";
import { KeysPage } from "./pages/keys.jsx";
import { ShopIntegrationsPage } from "./pages/shop-integrations.jsx";
import { WebhooksPage } from "./pages/webhooks.jsx";
import { ErrorNote } from "./ui.jsx";

/** Every page: its path, its title (the main landmark's name), who may use it, the scope an entity key needs for it. */
const PAGES = [
  { path: "/console", title: "Connectors", who: "entity", scope: "integrations:read", Page: ConnectorsPage },
  { path: "/console/connections", title: "Customer connections", who: "entity", scope: "connections:read", Page: ConnectionsPage },
  { path: "/console/connection-webhooks", title: "Connection webhooks", who: "entity", scope: "webhooks:manage", Page: DestinationsPage },
  { path: "/console/shop-integrations", title: "Shop integrations", who: "entity", scope: "integrations:read", Page: ShopIntegrationsPage },
  { path: "/console/webhooks", title: "Developers › Webhooks", who: "entity", scope: "webhooks:manage", Page: WebhooksPage },
  { path: "/console/api-logs", title: "Developers › API logs", who: "any", scope: "request_logs:read", Page: ApiLogsPage },
  { path: "/console/audit", title: "Audit log", who: "any", scope: "audit:read", Page: AuditPage },
  { path: "/console/collection", title: "Developers › API collection", who: "any", Page: CollectionPage },
  { path: "/console/entities", title: "Entities", who: "admin", Page: EntitiesPage },
  { path: "/console/keys", title: "Developers › API keys", who: "admin", Page: KeysPage },
];
const ALIASES = { "/console/connectors": "/console", "/console/developers": "/console/keys" };

function pageFor(pathname) {
  const path = ALIASES[pathname.replace(/\/$/, "")] ?? pathname.replace(/\/$/, "");
  return PAGES.find((p) => p.path === path) ?? null;
}

export function navigate(path) {
  history.pushState(null, "", path);
  dispatchEvent(new PopStateEvent("popstate"));
}

function usePath() {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const on = () => setPath(location.pathname);
    addEventListener("popstate", on);
    return () => removeEventListener("popstate", on);
  }, []);
  return path;
}

function SignIn({ onSignedIn }) {
  const [secret, setSecret] = useState("");
  const [publicKey, setPublicKey] = useState("");
  const [running, setRunning] = useState(false);
  const [error, setError] = useState(null);
  async function submit(e) {
    e.preventDefault();
    setRunning(true);
    setError(null);
    const typed = secret.trim();
    const cred = typed.startsWith("ark_") ? { kind: "entity", key: typed, publicKey: publicKey.trim() || null } : { kind: "admin", token: typed };
    try {
      // A key is checked against the catalog (any entity key may read it); the admin token against the entity list.
      if (cred.kind === "entity") await call(cred, "GET", "/v1/integrations/catalog");
      else await call(cred, "GET", "/admin/v1/entities");
      setSecret("");
      onSignedIn(cred);
    } catch (err) {
      setError(err);
    } finally {
      setRunning(false);
    }
  }
  return (
    <main aria-labelledby="sign-in-title" class="panel">
      <h1 id="sign-in-title">Sign in to Patchbay</h1>
      <p class="muted">
        With an entity API key (<code>ark_live_ent_…</code> or <code>ark_test_ent_…</code>) to manage that entity's connectors, connections, shop integrations and
        webhooks, or with the admin token to manage entities and their API keys. It stays in this browser tab only and is sent to this server only.
      </p>
      <form onSubmit={submit} autocomplete="off">
        <div class="field">
          <label for="secret">API key or admin token</label>
          <input id="secret" name="secret" type="password" required spellcheck={false} value={secret} onInput={(e) => setSecret(e.currentTarget.value)} aria-describedby={error ? "sign-in-error" : undefined} />
        </div>
        <div class="field">
          <label for="public-key">Public key (optional)</label>
          <input id="public-key" name="public_key" spellcheck={false} value={publicKey} onInput={(e) => setPublicKey(e.currentTarget.value)} aria-describedby="public-key-help" />
          <p class="help" id="public-key-help">
            The key's <code>pk_…</code>: the shop integrations API (/api/v3) authenticates with both.
          </p>
        </div>
        <div id="sign-in-error">
          <ErrorNote error={error} />
        </div>
        <button type="submit" disabled={running}>
          {running ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

function Shell({ cred, onSignOut, onSwitch }) {
  const path = usePath();
  const page = pageFor(path);
  const allowed = PAGES.filter((p) => p.who === "any" || p.who === cred.kind);
  const testMode = cred.kind === "entity" && cred.key.startsWith("ark_test_");
  useEffect(() => {
    if (page) document.title = `${page.title} · Patchbay console`;
  }, [page]);
  const usable = page && (page.who === "any" || page.who === cred.kind);
  // A key signed in from its creation is known with its scopes: a page it may not use says so instead of failing.
  const lacking = usable && cred.kind === "entity" && Array.isArray(cred.scopes) && page.scope && !cred.scopes.includes(page.scope) ? page.scope : null;
  return (
    <>
      {testMode && (
        <p class="test-banner" role="note">
          Test mode: this key sees test data only, and its connectors run against the providers' sandboxes.
        </p>
      )}
      <header class="bar">
        <strong>Patchbay</strong>
        <span class="muted">{cred.kind === "admin" ? "Operator (admin token)" : `Entity key ${cred.key.slice(0, 17)}…`}</span>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <nav class="tabs" aria-label="Console sections">
        {allowed.map((p) => (
          <a
            key={p.path}
            href={p.path}
            aria-current={page && page.path === p.path ? "page" : undefined}
            onClick={(e) => {
              e.preventDefault();
              navigate(p.path);
            }}
          >
            {p.title}
          </a>
        ))}
      </nav>
      <main aria-labelledby="page-title">
        <h1 id="page-title">{usable ? page.title : page ? page.title : "Page not found"}</h1>
        {!page && <p>There is no such page. Pick a section above.</p>}
        {page && !usable && <p>{cred.kind === "admin" ? "This page works with an entity API key: create one under Developers › API keys and sign in with it." : "This page needs the admin token: sign out and sign in with it."}</p>}
        {lacking && <p class="empty">This key has no {lacking} scope, so this page cannot show anything with it. An operator can create a key with that scope under Developers › API keys.</p>}
        {usable && !lacking && <page.Page key={page.path} cred={cred} onSwitch={onSwitch} />}
      </main>
    </>
  );
}

function App() {
  const [cred, setCred] = useState(session.load());
  const signIn = (c) => {
    session.save(c);
    setCred(c);
    if (c.kind === "admin" && location.pathname.replace(/\/$/, "") === "/console") navigate("/console/entities");
  };
  if (!cred) return <SignIn onSignedIn={signIn} />;
  return (
    <Shell
      cred={cred}
      onSwitch={(c) => {
        signIn(c);
        navigate("/console");
      }}
      onSignOut={() => {
        session.save(null);
        setCred(null);
      }}
    />
  );
}

render(<App />, document.getElementById("app"));
