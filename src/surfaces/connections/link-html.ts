import { createHash } from "node:crypto";

/** The hosted link page: three small server-rendered pages, every interpolated value escaped. */

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;background:#f4f5f7;color:#1d2230;margin:0}
main{max-width:26rem;margin:4rem auto;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 1px 4px #0002}
h1{font-size:1.3rem;margin:0 0 1rem}label{display:block;margin:1rem 0 .25rem;font-weight:600}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #b8bdc9;border-radius:6px;font:inherit}
button{margin-top:1.5rem;width:100%;padding:.7rem;border:0;border-radius:6px;background:#1d4ed8;color:#fff;font:inherit;font-weight:600;cursor:pointer}
.error{background:#fde8e8;color:#8a1c1c;border-radius:6px;padding:.75rem;margin:0 0 1rem}
.note{color:#5b6274;font-size:.85rem;margin-top:1rem}`;

/** For the Content-Security-Policy: the one inline style block, by hash, instead of 'unsafe-inline'. */
export const STYLE_HASH = `'sha256-${createHash("sha256").update(STYLE).digest("base64")}'`;

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main>${body}</main></body></html>`;
}

export interface LinkFormView {
  retailerName: string;
  /** The token fields the form posts back: connection_token, or link_token with connection_id or retailer_id. */
  hidden: Record<string, string>;
  redirectUrl: string | null;
  csrfToken: string;
  username?: string;
  /** The retailer's refusal, or why the last try did not go through. */
  error?: string;
}

export function linkFormPage(v: LinkFormView): string {
  const name = escapeHtml(v.retailerName);
  return page(
    `Connect your ${v.retailerName} account`,
    `<h1>Connect your ${name} account</h1>
${v.error ? `<p class="error" role="alert">${escapeHtml(v.error)}</p>` : ""}
<form method="post" action="/link" autocomplete="on">
${Object.entries(v.hidden).map(([k, value]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(value)}">`).join("\n")}
${v.redirectUrl ? `<input type="hidden" name="redirect_url" value="${escapeHtml(v.redirectUrl)}">` : ""}
<input type="hidden" name="csrf_token" value="${escapeHtml(v.csrfToken)}">
<label for="username">${name} username or email</label>
<input type="text" id="username" name="username" required maxlength="256" autocomplete="username" value="${escapeHtml(v.username ?? "")}">
<label for="password">Password</label>
<input type="password" id="password" name="password" required maxlength="256" autocomplete="current-password">
<button type="submit">Connect</button>
</form>
<p class="note">Your password is checked with ${name} and stored encrypted. It is never shown again.</p>`,
  );
}

/** The first step of a durable link token without a retailer: choose one (a GET form back to /link with retailer_id). */
export function retailerSelectPage(v: { linkToken: string; redirectUrl: string | null; retailers: readonly { slug: string; name: string }[] }): string {
  const options = v.retailers.map((r) => `<option value="${escapeHtml(r.slug)}">${escapeHtml(r.name)}</option>`).join("");
  return page(
    "Choose your retailer",
    `<h1>Choose your retailer</h1>
<form method="get" action="/link">
<input type="hidden" name="link_token" value="${escapeHtml(v.linkToken)}">
${v.redirectUrl ? `<input type="hidden" name="redirect_url" value="${escapeHtml(v.redirectUrl)}">` : ""}
<label for="retailer_id">Retailer</label>
<select id="retailer_id" name="retailer_id" required>${options}</select>
<button type="submit">Continue</button>
</form>`,
  );
}

export function linkSuccessPage(retailerName: string): string {
  return page("Account connected", `<h1>Your ${escapeHtml(retailerName)} account is connected</h1><p>You can close this window.</p>`);
}

export function linkErrorPage(title: string, message: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><p class="error" role="alert">${escapeHtml(message)}</p>`);
}
