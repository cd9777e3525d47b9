-- The API request log's write cost (issue 20: at most 5% of GET throughput).
-- One row per request cost PostgreSQL about 12 µs per logged GET (the heap
-- tuple, its WAL, two index entries, the arrays unnested): a few percent of
-- the request. Each flush now writes one row per entity: that entity's
-- entries of the flush, oldest first, as one JSON text, stored as it arrives
-- (no parse, no per-entry tuple or index entry) and read by the listing
-- (services/request-logs.ts), which is rare next to the writes.
--
-- entries: [[id, api_key_id, mode, method, path, status, latency_ms,
-- client_ip, request_id], …]. An entry's id is a UUIDv7 carrying its
-- request's millisecond: created_at is read from it, and time filters are id
-- bounds. A batch's id is its newest entry's id (the retention purge deletes
-- by it), first_id its oldest's: the two bounds the listing merges batches by
-- (two processes' batches of one entity overlap in time).
create table request_log_batches (
  id         uuid primary key,
  entity_id  uuid not null,
  first_id   uuid not null,
  entries    text not null
);
-- Newest first (starting_after pages): batches by their newest entry.
create index request_log_batches_entity_idx on request_log_batches (entity_id, id);
-- Oldest first (ending_before pages): batches by their oldest entry.
create index request_log_batches_entity_first_idx on request_log_batches (entity_id, first_id);

-- lz4 compresses the entries about five to one for a fraction of the CPU of
-- the default (pglz); a server built without it keeps the default.
do $$
begin
  execute 'alter table request_log_batches alter column entries set compression lz4';
exception when others then
  null;
end
$$;

-- The rows logged so far move over: one batch per entity and minute.
insert into request_log_batches (id, entity_id, first_id, entries)
select (array_agg(id order by id desc))[1], entity_id, (array_agg(id order by id))[1],
       json_agg(json_build_array(id, api_key_id, mode, method, path, status, latency_ms, client_ip, request_id) order by id)::text
  from request_logs
 group by entity_id, date_trunc('minute', created_at);

drop table request_logs;
