-- The request log's write cost (issue 20: at most 5% of GET throughput).
-- Every logged request wrote three index entries; it now writes two:
-- - the retention purge deletes by id, not created_at: a UUIDv7 id carries
--   its request's millisecond (services/request-logs.ts), so the primary key
--   is also the time index and request_logs_created_idx goes;
-- - the listing index keeps (entity_id, id) in ascending order: new ids are
--   the highest, so each insert lands on the rightmost leaf (PostgreSQL's
--   fast path for appends), and newest-first pages read it backwards.
drop index request_logs_created_idx;
drop index request_logs_entity_idx;
create index request_logs_entity_idx on request_logs (entity_id, id);
