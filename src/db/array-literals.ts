/**
 * PostgreSQL array literals for batch inserts (`insert … select … from
 * unnest($1::uuid[], …)`): built here in one pass and sent as one text
 * parameter each, where the driver's own array encoding quotes and escapes
 * every element, and the statement's text and parameter count stay the same
 * whatever the batch size.
 */

/** Values that never need quoting (uuids, numbers, fixed words); null is NULL. */
export function plainArray(xs: readonly (string | number | null)[]): string {
  let out = "{";
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] as string | number | null;
    out += `${i === 0 ? "" : ","}${x === null ? "NULL" : x}`;
  }
  return `${out}}`;
}

/** Arbitrary text: every element quoted, `\` and `"` escaped; null is NULL. */
export function textArray(xs: readonly (string | null)[]): string {
  let out = "{";
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] as string | null;
    out += i === 0 ? "" : ",";
    out += x === null ? "NULL" : `"${NEEDS_ESCAPE.test(x) ? x.replace(ESCAPED, "\\$&") : x}"`;
  }
  return `${out}}`;
}
const NEEDS_ESCAPE = /[\\"]/;
const ESCAPED = /[\\"]/g;
