-- The provider-call log's write cost (issue 15: one row per proxied request).
-- Every logged call checked two foreign keys (a lookup and a row lock on its
-- entity and its connector) and wrote three index entries; it now does
-- neither check and writes two entries:
-- - no foreign keys, as request_logs (0038): a batch must not fail as a whole
--   because one row's connector was deleted meanwhile, and a deleted
--   connector's rows go with the retention (the listing reads by connector id,
--   and a connector made again has a new id);
-- - the retention purge deletes by id, not created_at: a UUIDv7 id carries its
--   call's millisecond (services/provider-calls.ts), so the primary key is
--   also the time index and provider_calls_created_idx goes;
-- - the listing index keeps (connector_id, id) in ascending order: a
--   connector's new ids are its highest, and newest-first pages read it backwards.
alter table provider_calls drop constraint provider_calls_entity_id_fkey;
alter table provider_calls drop constraint provider_calls_connector_id_fkey;
drop index provider_calls_created_idx;
drop index provider_calls_connector_idx;
create index provider_calls_connector_idx on provider_calls (connector_id, id);
