-- The provider-call log: one row per outbound call Patchbay makes for a
-- connector (proxied, verification, health check, token minting, Shopify
-- refresh). Never a header value or a body; secret query values are redacted
-- before the path is written. Ids are UUIDv7, so id order is time order.

create table provider_calls (
  id              uuid primary key,
  entity_id       uuid not null references entities (id) on delete cascade,
  connector_id    uuid not null references connectors (id) on delete cascade,
  connector_type  text not null,
  purpose         text not null check (purpose in ('proxy', 'verify', 'health_check', 'token_mint', 'token_refresh')),
  method          text not null,
  -- The provider path and query, secret query values replaced by [redacted].
  path            text not null,
  -- The provider's HTTP status; null when no answer came (error_class says why).
  status          integer,
  latency_ms      integer not null,
  bytes_sent      bigint not null,
  bytes_received  bigint not null,
  -- timeout | network | too_large | aborted, or null.
  error_class     text,
  -- The Patchbay request that caused the call (null for background jobs).
  request_id      text,
  created_at      timestamptz not null
);
-- GET /v1/integrations/{type}/logs: the connector's calls newest first, cursor on id.
create index provider_calls_connector_idx on provider_calls (connector_id, id desc);
-- The retention purge deletes by age.
create index provider_calls_created_idx on provider_calls (created_at);
