-- Entities, their API keys, and their connectors (one per entity and type).

create table entities (
  id          uuid primary key,
  name        text not null,
  created_at  timestamptz not null
);
-- GET /admin/v1/entities pages by id (UUIDv7, so id order is creation order).

create table api_keys (
  id          uuid primary key,
  entity_id   uuid not null references entities (id) on delete cascade,
  name        text not null,
  mode        text not null check (mode in ('live', 'test')),
  scopes      text[] not null,
  key_prefix  text not null,
  key_hash    bytea not null,
  public_key  text not null,
  created_at  timestamptz not null,
  revoked_at  timestamptz
);
-- Every authenticated request looks its key up by hash: one unique index probe.
create unique index api_keys_key_hash_idx on api_keys (key_hash);
-- HTTP Basic on the shop-integrations surface names the key by public_key.
create unique index api_keys_public_key_idx on api_keys (public_key);
-- Admin lists an entity's keys.
create index api_keys_entity_idx on api_keys (entity_id, id);

create table connectors (
  id                  uuid primary key,
  entity_id           uuid not null references entities (id) on delete cascade,
  connector_type      text not null,
  display_name        text not null,
  mode                text not null check (mode in ('sandbox', 'live')),
  is_active           boolean not null,
  config              jsonb not null default '{}'::jsonb,
  last_sync_at        timestamptz,
  sync_status         text,
  sync_error          text,
  ship_from_name      text,
  ship_from_address1  text,
  ship_from_city      text,
  ship_from_state     text,
  ship_from_zip       text,
  seller_id           text,
  bank_account_id     uuid,
  disconnected_at     timestamptz,
  created_at          timestamptz not null,
  updated_at          timestamptz not null
);
-- GET/PATCH/DELETE /v1/integrations/{type}: one probe on (entity_id, connector_type),
-- which is also the "one connector per type" rule.
create unique index connectors_entity_type_idx on connectors (entity_id, connector_type);
-- GET /v1/integrations: keyset pagination by id within an entity.
create index connectors_entity_id_idx on connectors (entity_id, id);
-- The purge job finds disconnected connectors whose recovery window has passed.
create index connectors_disconnected_idx on connectors (disconnected_at) where disconnected_at is not null;
