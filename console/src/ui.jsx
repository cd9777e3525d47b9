// The console's building blocks. Text is always rendered as text (Preact
// escapes it); no component takes HTML.
import { useEffect, useRef, useState } from "preact/hooks";

let lastId = 0;
export function useId(prefix) {
  const id = useRef(null);
  if (id.current === null) id.current = `${prefix}-${++lastId}`;
  return id.current;
}

/** An API error shown once, where it happened: the message and, below it, the API's hint. */
export function ErrorNote({ error, skipFields }) {
  if (!error) return null;
  // A field's error is shown next to that field; only the rest is shown here.
  if (skipFields && Object.keys(error.fields || {}).some((f) => skipFields.includes(f))) return null;
  return (
    <div class="error" role="alert">
      <p>{error.message}</p>
      {error.hint && <p class="hint">{error.hint}</p>}
    </div>
  );
}

const FOCUSABLE = "a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex='-1'])";

/**
 * A modal dialog (native <dialog>: the page behind it is inert). Tab and
 * Shift+Tab wrap around inside it, so focus never leaves for the browser's
 * own controls while it is open; Escape closes it; focus returns to the
 * control that opened it.
 */
export function Dialog({ title, onClose, children, wide }) {
  const ref = useRef(null);
  const titleId = useId("dialog-title");
  useEffect(() => {
    const dialog = ref.current;
    // Focus goes back to what opened the dialog (its button) when it closes.
    const opener = document.activeElement;
    if (dialog && !dialog.open) dialog.showModal();
    const cancel = (e) => {
      e.preventDefault();
      onClose();
    };
    const wrap = (e) => {
      if (e.key !== "Tab") return;
      const items = [...dialog.querySelectorAll(FOCUSABLE)].filter((el) => el.offsetParent !== null || el === document.activeElement);
      if (items.length === 0) return;
      const first = items[0];
      const last = items[items.length - 1];
      const inside = dialog.contains(document.activeElement);
      if (e.shiftKey && (!inside || document.activeElement === first)) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (!inside || document.activeElement === last)) {
        e.preventDefault();
        first.focus();
      }
    };
    dialog.addEventListener("cancel", cancel);
    dialog.addEventListener("keydown", wrap);
    return () => {
      dialog.removeEventListener("cancel", cancel);
      dialog.removeEventListener("keydown", wrap);
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
    };
  }, []);
  return (
    <dialog ref={ref} class={wide ? "wide" : ""} aria-labelledby={titleId}>
      <h2 id={titleId}>{title}</h2>
      {children}
    </dialog>
  );
}

export function Badge({ tone, children }) {
  return <span class={`badge ${tone || ""}`}>{children}</span>;
}

/** A button that shows its progress and is disabled while its action runs. */
export function ActionButton({ running, label, busyLabel, ...rest }) {
  return (
    <button type="button" disabled={running} aria-busy={running ? "true" : undefined} {...rest}>
      {running ? busyLabel || "Working…" : label}
    </button>
  );
}

export function CopyButton({ text, label }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
          setCopied(true);
        } catch {
          setCopied(false);
        }
      }}
    >
      {copied ? "Copied" : label}
    </button>
  );
}

export function Empty({ children }) {
  return <p class="empty">{children}</p>;
}

/** Client-side paging of a list that the API returns whole. */
export function usePages(items, size = 10) {
  const [page, setPage] = useState(0);
  const pages = Math.max(1, Math.ceil(items.length / size));
  const current = Math.min(page, pages - 1);
  return {
    rows: items.slice(current * size, current * size + size),
    pager: <Pager label="list" hasPrev={current > 0} hasNext={current < pages - 1} onPrev={() => setPage(current - 1)} onNext={() => setPage(current + 1)} status={`Page ${current + 1} of ${pages}`} />,
  };
}

export function Pager({ label, hasPrev, hasNext, onPrev, onNext, status, busy }) {
  if (!hasPrev && !hasNext) return null;
  return (
    <nav class="pager" aria-label={`Pages of the ${label}`}>
      <button type="button" disabled={!hasPrev || busy} onClick={onPrev}>
        Previous page
      </button>
      {status && <span class="muted">{status}</span>}
      <button type="button" disabled={!hasNext || busy} onClick={onNext}>
        Next page
      </button>
    </nav>
  );
}

/**
 * A /v1 cursor-paged list: loads the first page, then older/newer pages by
 * the first and last ids shown. `load(query)` returns `{data, has_more}`.
 */
export function useCursorList(load, deps, limit = 10) {
  const [state, setState] = useState({ data: [], hasNext: false, hasPrev: false, loading: true, error: null, depth: 0 });
  async function fetchPage(cursor, depth) {
    setState((s) => ({ ...s, loading: true, error: null }));
    try {
      const page = await load({ limit, ...cursor });
      const backwards = cursor && cursor.ending_before;
      setState({
        data: page.data,
        hasNext: backwards ? true : page.has_more,
        hasPrev: depth > 0,
        loading: false,
        error: null,
        depth,
      });
    } catch (error) {
      setState((s) => ({ ...s, loading: false, error }));
    }
  }
  useEffect(() => {
    fetchPage(null, 0);
  }, deps);
  return {
    ...state,
    reload: () => fetchPage(null, 0),
    pager: (label) => (
      <Pager
        label={label}
        busy={state.loading}
        hasPrev={state.hasPrev}
        hasNext={state.hasNext && state.data.length > 0}
        onPrev={() => fetchPage({ ending_before: state.data[0].id }, state.depth - 1)}
        onNext={() => fetchPage({ starting_after: state.data[state.data.length - 1].id }, state.depth + 1)}
        status={`Page ${state.depth + 1}`}
      />
    ),
  };
}

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
