-- Access tokens Patchbay mints from a connector's stored credentials (UPS,
-- FedEx, USPS, WWEX client credentials; Amazon LWA and eBay refresh tokens).
-- The token itself is sealed in vault_secrets (owner_id = the connector,
-- purpose connector.minted_token); this row says which generation it is,
-- when it expires and who is minting the next one.

create table provider_tokens (
  connector_id     uuid primary key references connectors (id) on delete cascade,
  -- Bumped by every mint: a minter claims one generation and completes only that one.
  generation       integer not null default 0,
  expires_at       timestamptz,
  -- The one process minting now, and until when its claim holds (a dead minter's claim lapses).
  mint_lease_id    uuid,
  mint_lease_until timestamptz,
  created_at       timestamptz not null,
  updated_at       timestamptz not null
);
-- Every read and claim is by connector_id: the primary key.
