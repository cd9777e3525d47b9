-- Shop integrations (/api/v3/integrations, seed 004): a shop-type connector
-- (shopify, amazon, ebay) as shipping software sees it. One record, two views:
-- the integer id and the shipping settings live on the connector row itself,
-- so a change made through either surface is at once the other's.

alter table connectors
  -- Every connector gets one, whoever inserts it (the /v1 POST, the Shopify
  -- OAuth callback, a restore); only shop-type connectors are exposed under it.
  add column shop_integration_id    integer generated always as identity,
  add column shop_url               text,
  add column service_point_enabled  boolean not null default false,
  add column service_point_carriers text[] not null default '{}',
  add column webhook_active         boolean not null default false,
  add column webhook_url            text,
  add column feedback_type          text not null default 'none' check (feedback_type in ('eager', 'delayed', 'none')),
  add column sync_failing_since     timestamptz,
  -- The service checks both rules against the merged record under a row lock;
  -- these keep them true against any other writer too.
  add constraint connectors_webhook_url_when_active check (not webhook_active or webhook_url is not null),
  add constraint connectors_carrier_when_service_point check (not service_point_enabled or cardinality(service_point_carriers) > 0);

-- GET/PATCH/DELETE /api/v3/integrations/{id}: one probe on the integer id.
create unique index connectors_shop_integration_id_idx on connectors (shop_integration_id);
-- GET /api/v3/integrations is served by connectors_entity_type_idx (entity_id,
-- connector_type): an entity has at most one connector per shop type, so the
-- sort happens on at most three rows.

-- started_failing_at: when sync_status turned failing. Whoever writes the
-- status (credential checks, health checks, token refresh), the database
-- records the moment, taken from the business times that writer supplied
-- (last_sync_at / updated_at come from the injected clock, not SQL now()).
-- Healthy: null (never checked), 'ok', 'connected'; any other status is failing.
create function connectors_track_sync_failing() returns trigger language plpgsql as $$
begin
  if new.sync_status is null or new.sync_status in ('ok', 'connected') then
    new.sync_failing_since := null;
  elsif tg_op = 'INSERT' or old.sync_status is null or old.sync_status in ('ok', 'connected') then
    new.sync_failing_since := greatest(new.last_sync_at, new.updated_at);
  end if;
  return new;
end;
$$;

create trigger connectors_track_sync_failing
  before insert or update of sync_status on connectors
  for each row execute function connectors_track_sync_failing();
