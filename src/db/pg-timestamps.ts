/**
 * timestamptz as PostgreSQL sends it in text (DateStyle ISO):
 * `2026-12-01 21:11:00.123456+00`. node-postgres parses each with
 * postgres-date, three regular expressions per value; a list of connectors
 * reads a few dozen per request (BENCHMARKS.md, "the list"). This reads the
 * fixed layout by position and gives the same Date; anything else (a year
 * before 1000, BC, infinity, an unexpected layout) goes to `parseDate`,
 * node-postgres's own parser (`pg.types.getTypeParser(1184)`).
 */
export function timestamptzParser(parseDate: (text: string) => unknown): (text: string) => unknown {
  return (text) => parseTimestamptz(text, parseDate);
}

function parseTimestamptz(text: string, parseDate: (text: string) => unknown): unknown {
  const n = text.length;
  if (n < 22 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 32 || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return parseDate(text);
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  let i = 19;
  let ms = 0;
  if (text.charCodeAt(i) === 46) {
    let end = i + 1;
    while (end < n && isDigit(text.charCodeAt(end))) end++;
    if (end === i + 1) return parseDate(text);
    // The first three digits: what postgres-date's 1000 × parseFloat(".ffffff") comes to once Date truncates it
    // (checked for every fraction of one to six digits).
    for (let k = i + 1; k < i + 4; k++) ms = ms * 10 + (k < end ? text.charCodeAt(k) - 48 : 0);
    i = end;
  }
  const sign = text.charCodeAt(i);
  if (sign !== 43 && sign !== 45) return parseDate(text);
  let offset = digits(text, i + 1, 2) * 3_600_000;
  i += 3;
  if (i < n && text.charCodeAt(i) === 58) {
    offset += digits(text, i + 1, 2) * 60_000;
    i += 3;
    if (i < n && text.charCodeAt(i) === 58) {
      offset += digits(text, i + 1, 2) * 1_000;
      i += 3;
    }
  }
  const fields = year + month + day + hour + minute + second + offset;
  if (i !== n || year < 1000 || Number.isNaN(fields) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return parseDate(text);
  const local = ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * 60_000 + second * 1_000 + ms;
  return new Date(sign === 45 ? local + offset : local - offset);
}

/** Days from 1970-01-01 to a proleptic Gregorian date (the civil-from-days inverse of H. Hinnant's chrono algorithms). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

const isDigit = (c: number) => c >= 48 && c <= 57;

/** The decimal number of `count` digits at `at`; NaN if one is not a digit. */
function digits(text: string, at: number, count: number): number {
  let v = 0;
  for (let k = at; k < at + count; k++) {
    const c = text.charCodeAt(k);
    if (!isDigit(c)) return NaN;
    v = v * 10 + (c - 48);
  }
  return v;
}
