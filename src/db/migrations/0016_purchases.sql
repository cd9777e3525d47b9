-- Purchases pulled from a connection's retailer (issue 18; Subtotal's /purchases).
-- Ids are ULIDs made from the purchase date, so "order by id desc" is newest
-- purchase first and starting_after is a plain keyset.

create table purchases (
  id                    text primary key check (length(id) = 26),
  entity_id             uuid not null references entities (id) on delete cascade,
  -- DELETE /connections/{id} takes its purchases with it.
  connection_id         text not null references connections (id) on delete cascade,
  -- The gateway's own id: a purchase seen twice (a retried page, two syncs) is stored once.
  retailer_purchase_id  text not null,
  purchased_at          timestamptz not null,
  -- Decimal strings exactly as answered (two decimals), never floats.
  total                 text not null,
  tax                   text not null,
  subtotal              text not null,
  item_count            integer not null,
  -- [{item_id, price, quantity, product:{product_id, description, name, upc, brand}}]
  items                 jsonb not null,
  created_at            timestamptz not null,
  unique (connection_id, retailer_purchase_id)
);
-- GET /purchases (one connection, newest first, starting_after) and GET /purchases/{id}
-- (primary key, then connection_id compared): one range scan / one lookup.
create index purchases_connection_idx on purchases (connection_id, id);

-- The sync of a connection's purchases: where it stopped, when it is due, and
-- who holds it (a lease with a fencing token, so one sync at a time across processes).
alter table connections add column sync_cursor text;
alter table connections add column next_sync_at timestamptz;
alter table connections add column last_synced_at timestamptz;
alter table connections add column sync_failures integer not null default 0;
alter table connections add column sync_lease_token text;
alter table connections add column sync_lease_until timestamptz;
-- The scheduler finds active connections whose sync is due.
create index connections_sync_due_idx on connections (next_sync_at, id) where status = 'active';
-- The purge finds disconnected connections past the recovery window.
create index connections_disconnected_idx on connections (disconnected_at) where status = 'disconnected';
