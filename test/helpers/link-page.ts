import assert from "node:assert/strict";
import type { LightMyRequestResponse } from "fastify";
import type { TestApp } from "./app.ts";

export interface LinkPage {
  res: LightMyRequestResponse;
  /** `pb_link_csrf=…`, as a browser would send it back. */
  cookie: string;
  /** The form's hidden fields. */
  fields: Record<string, string>;
}

function unescapeHtml(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

export function hiddenFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([a-z_]+)" value="([^"]*)">/g)) fields[m[1]!] = unescapeHtml(m[2]!);
  return fields;
}

/** GET /link as a browser: the page, its CSRF cookie and its hidden form fields. */
export async function openLinkPage(t: TestApp, token: string, redirectUrl?: string, cookie?: string): Promise<LinkPage> {
  const query = new URLSearchParams({ connection_token: token, ...(redirectUrl !== undefined ? { redirect_url: redirectUrl } : {}) });
  const res = await t.request({ method: "GET", url: `/link?${query}`, headers: cookie ? { cookie } : {} });
  const setCookie = res.headers["set-cookie"];
  const raw = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  return { res, cookie: raw ? raw.split(";")[0]! : (cookie ?? ""), fields: hiddenFields(res.body) };
}

/** POST /link with the page's fields, as its form would. */
export async function submitLinkForm(
  t: TestApp,
  page: LinkPage,
  login: { username: string; password: string },
  opts: { headers?: Record<string, string>; fields?: Record<string, string>; cookie?: string | null } = {},
): Promise<LightMyRequestResponse> {
  const cookie = opts.cookie === undefined ? page.cookie : opts.cookie;
  return t.request({
    method: "POST",
    url: "/link",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie ? { cookie } : {}), ...opts.headers },
    payload: new URLSearchParams({ ...page.fields, ...login, ...opts.fields }).toString(),
  });
}

export function assertHtmlPage(res: LightMyRequestResponse, status: number, text: RegExp): void {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers["content-type"]), /^text\/html/);
  assert.match(res.body, text);
  assert.equal(res.headers["cache-control"], "no-store");
  assert.equal(res.headers["x-frame-options"], "DENY");
  assert.match(String(res.headers["content-security-policy"]), /frame-ancestors 'none'/);
}
