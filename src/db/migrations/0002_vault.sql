-- The vault: sealed secret blobs in their own table, one per (owning record, purpose).
-- ciphertext is the secret sealed (AES-256-GCM) under its own data key; wrapped_key is
-- that data key sealed under the master key named by master_key_id. Both are bound to
-- (entity_id, owner_id, purpose) as additional authenticated data.

create table vault_secrets (
  id             uuid primary key,
  entity_id      uuid not null references entities (id) on delete cascade,
  -- The record the secret belongs to (a connector, a connection, ...); no FK, owners live in several tables.
  owner_id       uuid not null,
  purpose        text not null,
  master_key_id  text not null,
  wrapped_key    bytea not null,
  ciphertext     bytea not null,
  created_at     timestamptz not null,
  updated_at     timestamptz not null
);
-- seal/open/destroy by place, and "destroy everything this record owns" (owner_id prefix).
create unique index vault_secrets_owner_purpose_idx on vault_secrets (owner_id, purpose);
-- Rewrap pages through the secrets not under the newest key; status counts per key.
create index vault_secrets_master_key_idx on vault_secrets (master_key_id, id);

-- A connector points at its sealed credentials and webhook secret; the credential key
-- names are not secret and are kept here, so the row shows them without opening anything.
alter table connectors
  add column credentials_secret_id uuid references vault_secrets (id),
  add column webhook_secret_id uuid references vault_secrets (id),
  add column credential_keys text[] not null default '{}';
-- Destroying a secret checks these foreign keys: an index each, so it is a probe, not a scan.
create index connectors_credentials_secret_idx on connectors (credentials_secret_id) where credentials_secret_id is not null;
create index connectors_webhook_secret_idx on connectors (webhook_secret_id) where webhook_secret_id is not null;
