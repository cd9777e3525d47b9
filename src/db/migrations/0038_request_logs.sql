-- The API request log (issue 20, item 6): one row per request an entity's
-- API key made, on any surface (/v1, /connections, /api/v3). Method, path
-- (secret query values replaced by [redacted]), status, latency, client
-- address, request id, key id and mode: never a header or a body. Rows are
-- written in batches (services/request-logs.ts); ids are UUIDv7, so id order
-- is time order. No foreign keys: a batch must not fail as a whole because
-- one row's key or entity went away meanwhile; rows go with the retention.

create table request_logs (
  id           uuid primary key,
  entity_id    uuid not null,
  api_key_id   uuid not null,
  mode         text not null check (mode in ('live', 'test')),
  method       text not null,
  path         text not null,
  status       integer not null,
  latency_ms   integer not null,
  client_ip    text not null,
  request_id   text not null,
  created_at   timestamptz not null
);
-- GET /v1/request_logs: an entity's requests newest first, cursor on id.
create index request_logs_entity_idx on request_logs (entity_id, id desc);
-- The retention purge deletes by age.
create index request_logs_created_idx on request_logs (created_at);
