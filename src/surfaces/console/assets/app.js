// The Patchbay web console: a client of the public /v1/integrations API and
// nothing more. Every rule lives in the server; this page only calls the same
// endpoints a script would, with the key the user typed in. Text is always set
// with textContent (never parsed as HTML), and the page's CSP allows no inline
// script, so data from the API cannot run as code here.
(function () {
  "use strict";

  const KEY_STORE = "patchbay.console.key";
  const state = { key: sessionStorage.getItem(KEY_STORE), catalog: [], rows: new Map() };

  const $ = (id) => document.getElementById(id);

  /** Builds an element: attributes (class, on<event>, booleans) and text or element children. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "value") node.value = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  /** A fresh Idempotency-Key, so a retried click never applies a write twice. */
  function idempotencyKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return "console-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error) || "The server answered " + status + ".");
      this.status = status;
      this.hint = body && body.hint;
      this.param = body && body.param;
    }
  }

  async function api(method, path, body) {
    const headers = { authorization: "Bearer " + state.key };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (method !== "GET") headers["idempotency-key"] = idempotencyKey();
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
    } catch {
      throw new ApiError(0, { error: "Patchbay could not be reached.", hint: "Check that the server is running." });
    }
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) throw new ApiError(res.status, json);
    return json;
  }

  function describe(err) {
    if (!(err instanceof ApiError)) return String(err && err.message ? err.message : err);
    return [err.message, err.param ? "Field: " + err.param : null, err.hint].filter(Boolean).join("\n");
  }

  let noticeTimer;
  function notify(text, isError) {
    const box = $("notice");
    box.textContent = text;
    box.className = isError ? "error" : "";
    box.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => (box.hidden = true), isError ? 9000 : 4000);
  }

  // ---- sign in / out ---------------------------------------------------------

  function showSignIn(message) {
    state.key = null;
    sessionStorage.removeItem(KEY_STORE);
    $("connectors").hidden = true;
    $("sign-out").hidden = true;
    $("who").textContent = "";
    $("sign-in").hidden = false;
    if (message) notify(message, true);
    $("key").focus();
  }

  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    state.key = $("key").value.trim();
    $("key").value = "";
    sessionStorage.setItem(KEY_STORE, state.key);
    await load();
  });

  $("sign-out").addEventListener("click", () => showSignIn());

  // ---- data ------------------------------------------------------------------

  async function load() {
    try {
      const catalog = await api("GET", "/v1/integrations/catalog");
      state.catalog = catalog.data;
      state.rows.clear();
      let after = null;
      for (;;) {
        const page = await api("GET", "/v1/integrations?limit=100" + (after ? "&starting_after=" + encodeURIComponent(after) : ""));
        for (const row of page.data) state.rows.set(row.connector_type, row);
        if (!page.has_more || page.data.length === 0) break;
        after = page.data[page.data.length - 1].id;
      }
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return showSignIn(describe(err));
      return notify(describe(err), true);
    }
    $("sign-in").hidden = true;
    $("connectors").hidden = false;
    $("sign-out").hidden = false;
    const k = state.key || "";
    $("who").textContent = "Signed in with " + k.slice(0, 13) + "…" + k.slice(-4);
    render();
  }

  /** Runs a write, shows its outcome, and refreshes the row it changed. */
  async function write(label, method, path, body) {
    try {
      const result = await api(method, path, body);
      const row = result && (result.data || (result.connector_type ? result : null));
      if (row && row.connector_type) state.rows.set(row.connector_type, row);
      render();
      notify(label);
      return result;
    } catch (err) {
      notify(describe(err), true);
      throw err;
    }
  }

  // ---- rendering -------------------------------------------------------------

  function status(row) {
    if (!row) return ["not connected", "none"];
    if (row.disconnected_at) return ["disconnected", "disconnected"];
    if (!row.is_active) return row.connector_type === "shopify" && row.sync_status === null ? ["awaiting approval", "pending"] : ["paused", "paused"];
    if (row.sync_status === "auth_failed" || row.sync_status === "unreachable") return [row.sync_status.replace("_", " "), "failing"];
    return ["active", "active"];
  }

  function render() {
    const grid = $("grid");
    grid.replaceChildren(...state.catalog.map(card));
  }

  function card(type) {
    const row = state.rows.get(type.connector_type);
    const [label, css] = status(row);
    const path = "/v1/integrations/" + type.connector_type;
    const facts = [["Type", type.connector_type + " · " + type.category]];
    if (row) {
      facts.push(["Name", row.display_name], ["Mode", row.mode]);
      facts.push(["Credentials", row.credentials_masked.length ? row.credentials_masked.join(", ") : type.auth_mode === "A" ? "none stored" : "—"]);
      facts.push(["Webhook secret", row.has_webhook_secret ? "stored" : "none"]);
      if (row.sync_status) facts.push(["Last check", row.sync_status + (row.last_sync_at ? " · " + new Date(row.last_sync_at).toLocaleString() : "")]);
      if (row.sync_error) facts.push(["Error", row.sync_error]);
      if (row.disconnected_at) facts.push(["Disconnected", new Date(row.disconnected_at).toLocaleString() + " (connect again within the recovery window to restore it)"]);
    }
    const actions = [];
    if (!row || row.disconnected_at) {
      actions.push(el("button", { class: "primary", onclick: () => (type.auth_mode === "B" ? connectShopify(type, row) : connectForm(type, row)) }, row ? "Restore" : "Connect"));
    } else {
      if (type.auth_mode === "B" && !row.is_active && row.sync_status === null) actions.push(el("button", { class: "primary", onclick: () => connectShopify(type, row) }, "Continue approval"));
      actions.push(el("button", { onclick: () => settingsForm(type, row) }, "Settings"));
      if (type.auth_mode === "A") actions.push(el("button", { onclick: () => credentialsForm(type, row) }, "Credentials"));
      actions.push(el("button", { onclick: () => webhookSecretForm(type, row) }, "Webhook secret"));
      if (type.auth_mode === "A" && row.credentials_masked.length) actions.push(el("button", { onclick: () => write("Checked with " + type.name + ".", "POST", path + "/verify").catch(() => {}) }, "Verify"));
      if (row.is_active || type.auth_mode === "A") {
        actions.push(el("button", { onclick: () => write(row.is_active ? "Paused." : "Resumed.", "PATCH", path, { is_active: !row.is_active }).catch(() => {}) }, row.is_active ? "Pause" : "Resume"));
      }
      actions.push(
        el("button", {
          class: "danger",
          onclick: () => {
            if (confirm("Disconnect " + type.name + "? Its credentials are kept for the recovery window, then destroyed.")) write("Disconnected.", "DELETE", path).catch(() => {});
          },
        }, "Disconnect"),
      );
    }
    return el(
      "article",
      { class: "card" },
      el("h2", {}, el("span", {}, type.name), el("span", { class: "badge " + css }, label)),
      el("dl", {}, facts.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
      el("div", { class: "actions" }, actions),
    );
  }

  // ---- dialogs ---------------------------------------------------------------

  /**
   * Opens the dialog with the given fields. onSubmit's error stays in the dialog;
   * a function it resolves to runs once the dialog has closed (to open the next one).
   */
  function openDialog(title, fields, submitLabel, onSubmit) {
    const dialog = $("dialog");
    $("dialog-title").textContent = title;
    $("dialog-body").replaceChildren(...fields);
    $("dialog-submit").textContent = submitLabel;
    $("dialog-error").hidden = true;
    const form = $("dialog-form");
    form.onsubmit = async (event) => {
      event.preventDefault();
      $("dialog-submit").disabled = true;
      try {
        const next = await onSubmit();
        dialog.close();
        if (typeof next === "function") next();
      } catch (err) {
        $("dialog-error").textContent = describe(err);
        $("dialog-error").hidden = false;
      } finally {
        $("dialog-submit").disabled = false;
      }
    };
    $("dialog-cancel").onclick = () => dialog.close();
    dialog.showModal();
  }

  const input = (name, label, attrs) => el("label", {}, label, el("input", Object.assign({ name, id: "f-" + name }, attrs || {})));
  const value = (name) => {
    const node = $("f-" + name);
    return node ? node.value : "";
  };
  const modeSelect = (current) =>
    el("label", {}, "Mode", el("select", { name: "mode", id: "f-mode" }, ["sandbox", "live"].map((m) => el("option", { value: m, selected: m === current }, m))));

  function parseConfig(text) {
    if (!text.trim()) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw new ApiError(400, { error: "Config is not valid JSON.", param: "config" });
    }
  }

  function requiredFieldInputs(type, row) {
    return type.required_fields.map((f) => input(f, f.replace(/_/g, " ") + " (required)", { value: row ? row[f] || "" : "", required: true }));
  }

  function connectForm(type, row) {
    const fields = [
      input("display_name", "Display name", { value: row ? row.display_name : type.name, maxlength: 200 }),
      modeSelect(row ? row.mode : "sandbox"),
      ...requiredFieldInputs(type, row),
      el("label", {}, "Config (JSON, optional)", el("textarea", { name: "config", id: "f-config", spellcheck: "false", placeholder: "{}" })),
    ];
    openDialog((row ? "Restore " : "Connect ") + type.name, fields, row ? "Restore" : "Connect", async () => {
      const body = { display_name: value("display_name") || undefined, mode: value("mode") };
      for (const f of type.required_fields) body[f] = value(f);
      const config = parseConfig(value("config"));
      if (config !== undefined) body.config = config;
      await write(type.name + (row ? " restored." : " connected."), "POST", "/v1/integrations/" + type.connector_type, body);
      if (!row && type.credential_keys.length) return () => credentialsForm(type, state.rows.get(type.connector_type));
    });
  }

  function connectShopify(type, row) {
    const fields = [
      el("p", { class: "muted" }, "Enter the shop's myshopify.com domain. Patchbay answers with a Shopify page where the shop owner approves the app; the connector turns active when they do."),
      input("shop", "Shop domain", { placeholder: "example.myshopify.com", required: true }),
      modeSelect(row ? row.mode : "sandbox"),
    ];
    openDialog("Connect Shopify", fields, "Get approval link", async () => {
      const answer = await api("POST", "/v1/integrations/shopify", { shop: value("shop"), mode: value("mode") });
      if (!answer || !answer.oauth_url) return load();
      const link = el("a", { href: answer.oauth_url, target: "_blank", rel: "noopener noreferrer" }, "Open Shopify to approve");
      const note = (answer.hint || "") + " The link expires " + new Date(answer.expires_at).toLocaleString() + ".";
      await load();
      return () => openDialog("Approve in Shopify", [el("p", {}, link), el("p", { class: "muted" }, note)], "Check again", () => load());
    });
  }

  function settingsForm(type, row) {
    const fields = [
      input("display_name", "Display name", { value: row.display_name, maxlength: 200 }),
      modeSelect(row.mode),
      ...requiredFieldInputs(type, row),
      el("label", {}, "Config changes (JSON merge patch: keys given replace, null removes)", el("textarea", { name: "config", id: "f-config", spellcheck: "false", placeholder: JSON.stringify(row.config) })),
      el("p", { class: "muted" }, "Current config: " + JSON.stringify(row.config)),
    ];
    openDialog(type.name + " settings", fields, "Save", async () => {
      const body = {};
      if (value("display_name") !== row.display_name) body.display_name = value("display_name");
      if (value("mode") !== row.mode) body.mode = value("mode");
      for (const f of type.required_fields) if (value(f) !== (row[f] || "")) body[f] = value(f);
      const config = parseConfig(value("config"));
      if (config !== undefined) body.config = config;
      if (Object.keys(body).length === 0) return;
      await write("Saved.", "PATCH", "/v1/integrations/" + type.connector_type, body);
    });
  }

  function credentialsForm(type, row) {
    const required = new Set(type.required_credential_keys);
    const fields = [
      el("p", { class: "muted" }, row && row.credentials_masked.length
        ? "Stored now: " + row.credentials_masked.join(", ") + ". Values are never shown. Saving replaces the whole set."
        : "No credentials stored yet. Values are sealed at rest and never shown again."),
      ...type.credential_keys.map((k) => input(k, k + (required.has(k) ? " (required)" : ""), { type: "password", autocomplete: "new-password", required: required.has(k) })),
    ];
    if (row && row.credentials_masked.length) {
      fields.push(el("button", {
        type: "button",
        class: "danger",
        onclick: () => {
          if (!confirm("Remove " + type.name + "'s credentials now? This cannot be undone.")) return;
          $("dialog").close();
          write("Credentials removed.", "DELETE", "/v1/integrations/" + type.connector_type + "/credentials").catch(() => {});
        },
      }, "Remove stored credentials"));
    }
    openDialog(type.name + " credentials", fields, "Save credentials", async () => {
      const body = {};
      for (const k of type.credential_keys) if (value(k) !== "") body[k] = value(k);
      for (const k of type.credential_keys) $("f-" + k).value = "";
      await write("Credentials saved; Patchbay checks them with " + type.name + " in the background.", "PUT", "/v1/integrations/" + type.connector_type + "/credentials", body);
    });
  }

  function webhookSecretForm(type, row) {
    const fields = [
      el("p", { class: "muted" }, row.has_webhook_secret ? "A webhook signing secret is stored. Enter a new one to replace it." : "The signing secret " + type.name + " gives you for its webhooks."),
      input("webhook_secret", "Webhook signing secret", { type: "password", autocomplete: "new-password", required: true }),
    ];
    if (row.has_webhook_secret) {
      fields.push(el("button", {
        type: "button",
        class: "danger",
        onclick: () => {
          $("dialog").close();
          write("Webhook secret removed.", "DELETE", "/v1/integrations/" + type.connector_type + "/webhook-secret").catch(() => {});
        },
      }, "Remove webhook secret"));
    }
    openDialog(type.name + " webhook secret", fields, "Save secret", async () => {
      const secret = value("webhook_secret");
      $("f-webhook_secret").value = "";
      await write("Webhook secret saved.", "PUT", "/v1/integrations/" + type.connector_type + "/webhook-secret", { webhook_secret: secret });
    });
  }

  // ---- start -----------------------------------------------------------------

  if (state.key) load();
  else showSignIn();
})();
