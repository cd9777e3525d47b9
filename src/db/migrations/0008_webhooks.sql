-- Outbound webhooks: an entity's endpoints, and one delivery per (event, target).
-- emitEvent (src/services/outbox.ts) fans an event out in the transaction that
-- writes it: one INSERT … SELECT puts a delivery row per target and a
-- `webhook.deliver` job per delivery, so a rolled-back change delivers nothing.
-- (0008 is applied after 0009/0010 on databases that already had those: it
-- only adds tables and depends on nothing they create.)

create table webhook_endpoints (
  id                          uuid primary key,
  entity_id                   uuid not null references entities (id) on delete cascade,
  url                         text not null,
  -- Event types (src/services/outbox.ts EVENT_TYPES), or {'*'} for all of them.
  events                      text[] not null check (cardinality(events) > 0),
  enabled                     boolean not null default true,
  description                 text,
  -- The signing secrets are in vault_secrets (owner_id = id): the current one,
  -- and after a rotation the previous one, still used until this moment.
  previous_secret_expires_at  timestamptz,
  created_at                  timestamptz not null,
  updated_at                  timestamptz not null
);
-- GET /v1/webhook_endpoints pages an entity's endpoints by id; the fan-out in
-- emitEvent reads an entity's endpoints through the same index.
create index webhook_endpoints_entity_idx on webhook_endpoints (entity_id, id);

create table webhook_deliveries (
  -- UUIDv7 carrying the event's timestamp: ordering by id is event order.
  id               uuid primary key,
  event_id         uuid not null references events (id) on delete cascade,
  -- The target: one of the entity's endpoints, or a shop integration (a shop-type
  -- connector with webhook_active) that receives its own shop_integration.* events.
  endpoint_id      uuid references webhook_endpoints (id) on delete cascade,
  connector_id     uuid references connectors (id) on delete cascade,
  status           text not null default 'pending' check (status in ('pending', 'succeeded', 'failed')),
  -- [{attempted_at, status_code, latency_ms, error}], oldest first.
  attempts         jsonb not null default '[]'::jsonb,
  attempt_count    integer not null default 0,
  next_attempt_at  timestamptz,
  created_at       timestamptz not null,
  updated_at       timestamptz not null,
  constraint webhook_deliveries_one_target check ((endpoint_id is null) <> (connector_id is null))
);
-- GET /v1/webhook_endpoints/{id}/deliveries pages by id; the endpoint's cascade delete uses it too.
create index webhook_deliveries_endpoint_idx on webhook_deliveries (endpoint_id, id) where endpoint_id is not null;
-- The connector's and the event's cascade deletes.
create index webhook_deliveries_connector_idx on webhook_deliveries (connector_id) where connector_id is not null;
create index webhook_deliveries_event_idx on webhook_deliveries (event_id);
