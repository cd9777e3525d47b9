-- Subtotal-style webhook destinations (issue 18 point 4; docs.subtotal.com
-- webhooks/configuration): a name, a URL, the events enabled, whether it takes
-- simulated events. The signing secret is sealed in vault_secrets (owner_id =
-- the id as a UUID, purpose webhook_destination.signing_secret).
-- They are fed by the same outbox as /v1/webhook_endpoints: emitEvent adds a
-- webhook_deliveries row per subscribed destination in the event's transaction.

create table webhook_destinations (
  -- A ULID, as Subtotal's identifiers are.
  id                        text primary key check (length(id) = 26),
  entity_id                 uuid not null references entities (id) on delete cascade,
  name                      text not null,
  url                       text not null,
  -- Subtotal event types (connection.*, purchase.created); at least one.
  events                    text[] not null check (cardinality(events) > 0),
  accepts_simulated_events  boolean not null default false,
  created_at                timestamptz not null,
  updated_at                timestamptz not null
);
-- GET /webhooks lists an entity's destinations by id; emitEvent's fan-out reads them through it too.
create index webhook_destinations_entity_idx on webhook_destinations (entity_id, id);

alter table webhook_deliveries add column destination_id text references webhook_destinations (id) on delete cascade;
alter table webhook_deliveries drop constraint webhook_deliveries_one_target;
alter table webhook_deliveries add constraint webhook_deliveries_one_target check (num_nonnulls(endpoint_id, connector_id, destination_id) = 1);
-- The destination's cascade delete.
create index webhook_deliveries_destination_idx on webhook_deliveries (destination_id) where destination_id is not null;
