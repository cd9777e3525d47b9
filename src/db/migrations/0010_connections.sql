-- Customer connections (SPEC §4, seed 003): an entity's end customer linked to
-- an account at a retailer. Ids are ULIDs (26 characters, time-ordered).
-- The retailer login is sealed in vault_secrets (owner_id = the id as a UUID,
-- purpose connection.retailer_login) and exists exactly while status is active.

create table connections (
  id                   text primary key check (length(id) = 26),
  entity_id            uuid not null references entities (id) on delete cascade,
  customer_id          text not null,
  retailer_id          text not null check (length(retailer_id) = 26),
  email                text,
  mobile               text,
  status               text not null check (status in ('initialized', 'active', 'unauthenticated', 'disconnected')),
  -- Bumped on every successful link, so a re-check that raced a re-link cannot mark the new login bad.
  credentials_version  integer not null default 0,
  -- The last successful link: link tokens issued before it are spent.
  linked_at            timestamptz,
  -- Logins tried on the link page since the last link token was issued (bounded, so a
  -- leaked link cannot be used to guess a customer's retailer password).
  link_attempts        integer not null default 0,
  last_checked_at      timestamptz,
  disconnected_at      timestamptz,
  created_at           timestamptz not null,
  updated_at           timestamptz not null
);
-- GET/PATCH /connections/{id}, POST …/token, PATCH /simulated-connections/{id}
-- and the link page find a connection by its primary key (then compare entity_id).
-- GET /connections?customer_id=…: one range scan, in id (creation) order.
create index connections_entity_customer_idx on connections (entity_id, customer_id, id);
-- The re-check job claims active connections, least recently checked first.
create index connections_recheck_idx on connections (last_checked_at, id) where status = 'active';
