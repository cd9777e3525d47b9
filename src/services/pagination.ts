import { sql, type SelectQueryBuilder } from "kysely";
import { ValidationError } from "../kernel/errors.ts";

/**
 * Cursor pagination for every /v1 list, as docs.arcuserp.com/concepts/pagination
 * defines it: `limit` records, after (`starting_after`) or before
 * (`ending_before`) an id, both exclusive; `include_count` adds the total of
 * matching records (one COUNT query, only when asked). Lists are newest first:
 * ids are time-ordered (UUIDv7), so "after" is older and "before" is newer.
 * A cursor is compared, not looked up: the id of a record deleted since still
 * resumes a scan where it stopped.
 */
export interface PageOptions {
  limit: number;
  startingAfter?: string | undefined;
  endingBefore?: string | undefined;
  includeCount?: boolean | undefined;
}

export interface Page<T> {
  data: T[];
  /** More records past this page in the direction it was read. */
  hasMore: boolean;
  /** All records matching the filters (not only this page's); only when includeCount. */
  totalCount?: number;
}

/** starting_after and ending_before pick opposite directions: one or the other. */
export function assertOneCursor(opts: PageOptions): void {
  if (opts.startingAfter !== undefined && opts.endingBefore !== undefined) {
    throw new ValidationError("Send starting_after or ending_before, not both.", {
      param: "ending_before",
      hint: "starting_after pages forward (older records), ending_before backward (newer ones): send the one for the direction you read.",
    });
  }
}

/**
 * One page of `filtered` (a query with its filters and selection, no order or
 * limit), newest id first. `idColumn` is the cursor column as the query names
 * it (`id`, `d.id`).
 */
export async function keysetPage<DB, TB extends keyof DB, O, T>(
  filtered: SelectQueryBuilder<DB, TB, O>,
  idColumn: string,
  opts: PageOptions,
  map: (row: O) => T,
): Promise<Page<T>> {
  assertOneCursor(opts);
  const id = sql.ref(idColumn);
  const backwards = opts.endingBefore !== undefined;
  const rows = await filtered
    .$if(opts.startingAfter !== undefined, (qb) => qb.where(sql<boolean>`${id} < ${opts.startingAfter!}`))
    .$if(backwards, (qb) => qb.where(sql<boolean>`${id} > ${opts.endingBefore!}`))
    .orderBy(id, backwards ? "asc" : "desc")
    .limit(opts.limit + 1)
    .execute();
  const page = rows.slice(0, opts.limit);
  if (backwards) page.reverse();
  const result: Page<T> = { data: page.map(map), hasMore: rows.length > opts.limit };
  if (opts.includeCount) result.totalCount = await countOf(filtered);
  return result;
}

/** The number of rows `filtered` matches, whatever the cursor. */
async function countOf<DB, TB extends keyof DB, O>(filtered: SelectQueryBuilder<DB, TB, O>): Promise<number> {
  const row = await filtered
    .clearSelect()
    .select(sql<string | number | bigint>`count(*)`.as("total_count"))
    .executeTakeFirst();
  return Number((row as { total_count?: unknown } | undefined)?.total_count ?? 0);
}

/**
 * The same rules over a list held in memory (the connector catalog), ordered
 * as given; `idOf` names each item's cursor. An unknown cursor matches nothing
 * (an empty page), as a stale id would.
 */
export function arrayPage<T>(items: readonly T[], idOf: (item: T) => string, opts: PageOptions): Page<T> {
  assertOneCursor(opts);
  let start = 0;
  let end = items.length;
  if (opts.startingAfter !== undefined) start = indexAfter(items, idOf, opts.startingAfter);
  if (opts.endingBefore !== undefined) end = Math.max(0, items.findIndex((i) => idOf(i) === opts.endingBefore));
  const backwards = opts.endingBefore !== undefined;
  const window = items.slice(start, end);
  const data = backwards ? window.slice(Math.max(0, window.length - opts.limit)) : window.slice(0, opts.limit);
  const result: Page<T> = { data, hasMore: window.length > opts.limit };
  if (opts.includeCount) result.totalCount = items.length;
  return result;
}

function indexAfter<T>(items: readonly T[], idOf: (item: T) => string, cursor: string): number {
  const at = items.findIndex((i) => idOf(i) === cursor);
  return at === -1 ? items.length : at + 1;
}
