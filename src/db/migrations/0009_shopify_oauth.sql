-- Shopify OAuth (Mode B): the authorizations in flight, and each Shopify
-- connector's grant: which shop, when its tokens expire, who is refreshing
-- them. The tokens themselves are the connector's credentials in the vault.
-- Plus the index the credential health checks scan.

create table shopify_oauth_states (
  -- SHA-256 of the state sent through the merchant's browser; the state itself is never stored.
  state_hash    bytea primary key,
  entity_id     uuid not null references entities (id) on delete cascade,
  connector_id  uuid not null references connectors (id) on delete cascade,
  shop          text not null,
  created_at    timestamptz not null,
  expires_at    timestamptz not null,
  used_at       timestamptz
);
-- The callback finds its state by hash: the primary key.
-- A new POST retires the connector's earlier unused states.
create index shopify_oauth_states_connector_idx on shopify_oauth_states (connector_id);
-- Cleanup of expired states.
create index shopify_oauth_states_expires_idx on shopify_oauth_states (expires_at);

create table shopify_grants (
  connector_id        uuid primary key references connectors (id) on delete cascade,
  shop                text not null,
  scope               text not null,
  access_expires_at   timestamptz,
  refresh_expires_at  timestamptz,
  -- 'active', or 'reauth_required' once Shopify refused a refresh.
  status              text not null check (status in ('active', 'reauth_required')),
  -- Bumped on every refresh: a refresher claims and completes only the generation it read.
  generation          integer not null default 0,
  -- The one refresher currently spending the refresh token, and until when its claim holds.
  refresh_lease_id    uuid,
  refresh_lease_until timestamptz,
  created_at          timestamptz not null,
  updated_at          timestamptz not null
);
-- The refresh job: active grants whose access token expires soonest.
create index shopify_grants_due_idx on shopify_grants (access_expires_at) where status = 'active';

-- The health-check job: active connectors with credentials, least recently checked first.
create index connectors_health_due_idx on connectors (last_sync_at nulls first)
  where is_active and disconnected_at is null and credentials_secret_id is not null;
