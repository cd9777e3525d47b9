-- Provider webhooks in (issue 15 §3). Each connector gets an unguessable
-- token for its inbound URL (PATCHBAY_PUBLIC_URL/v1/webhooks-in/<type>/<token>):
-- the lookup key of a provider's POST, and the only proof for providers that
-- sign nothing. Two random v4 UUIDs: 244 random bits, 64 hex characters.
alter table connectors
  add column inbound_token text not null
    default replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '');

create unique index connectors_inbound_token_idx on connectors (inbound_token);

-- One row per provider event accepted at a connector's inbound URL: a second
-- delivery of the same provider event id (a provider retry, a replay) finds
-- its row and emits nothing. The Patchbay event it became is event_id.
create table provider_webhook_events (
  connector_id       uuid not null references connectors (id) on delete cascade,
  provider_event_id  text not null,
  event_id           uuid not null,
  received_at        timestamptz not null,
  primary key (connector_id, provider_event_id)
);

create index provider_webhook_events_received_idx on provider_webhook_events (received_at);
