import { Type, type Static, type TProperties, type TSchema } from "@sinclair/typebox";
import type { Page, PageOptions } from "../../services/pagination.ts";

/**
 * The query and envelope of every /v1 (and /admin/v1) list, as
 * docs.arcuserp.com/concepts/pagination defines them: `limit` (default 20,
 * max 100), `starting_after` / `ending_before` (ids, exclusive), and
 * `include_count=true` for `total_count`; the answer is
 * `{object: "list", data, has_more, url}` plus `total_count` when asked.
 */
export function pageQueryFields(idName = "A record id") {
  return {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20, description: "Records per page (1–100, default 20)." }),
    starting_after: Type.Optional(Type.String({ format: "uuid", description: `${idName}: the page after it (older records), exclusive.` })),
    ending_before: Type.Optional(
      Type.String({ format: "uuid", description: `${idName}: the page before it (newer records), exclusive. Not together with starting_after (400).` }),
    ),
    include_count: Type.Optional(Type.Boolean({ default: false, description: "true adds total_count, the number of records matching the filters (one COUNT query more)." })),
  };
}

/** A list's query: the page fields and the list's own filters; nothing else is accepted. */
export function PageQuery<P extends TProperties = {}>(idName?: string, filters?: P) {
  return Type.Object({ ...pageQueryFields(idName), ...(filters ?? ({} as P)) }, { additionalProperties: false });
}

/** The list envelope around `item`. */
export function ListOf<T extends TSchema>(item: T, description?: string) {
  return Type.Object(
    {
      object: Type.Literal("list"),
      data: Type.Array(item),
      has_more: Type.Boolean({ description: "true if more records lie past this page, in the direction it was read." }),
      url: Type.String({ description: "This list's path." }),
      total_count: Type.Optional(Type.Integer({ minimum: 0, description: "All records matching the filters; only with include_count=true." })),
    },
    description === undefined ? {} : { description },
  );
}

export interface PageQueryValues {
  limit: number;
  starting_after?: string | undefined;
  ending_before?: string | undefined;
  include_count?: boolean | undefined;
}

/** The service's page options from a validated query. */
export function pageOptions(q: PageQueryValues): PageOptions {
  return { limit: q.limit, startingAfter: q.starting_after, endingBefore: q.ending_before, includeCount: q.include_count === true };
}

/** The envelope of one page. */
export function listEnvelope<T>(page: Page<T>, url: string): { object: "list"; data: T[]; has_more: boolean; url: string; total_count?: number } {
  const body: { object: "list"; data: T[]; has_more: boolean; url: string; total_count?: number } = { object: "list", data: page.data, has_more: page.hasMore, url };
  if (page.totalCount !== undefined) body.total_count = page.totalCount;
  return body;
}

export type ListEnvelope<T extends TSchema> = Static<ReturnType<typeof ListOf<T>>>;
