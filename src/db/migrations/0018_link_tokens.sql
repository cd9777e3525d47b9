-- Durable link tokens (issue 18 point 3): customer-scoped, days to a year,
-- listable and revocable, beside the 15-minute connection tokens. Only the
-- SHA-256 of the secret is stored (as for API keys); it is shown once.

create table link_tokens (
  -- A ULID (link_token_id).
  id              text primary key check (length(id) = 26),
  entity_id       uuid not null references entities (id) on delete cascade,
  customer_id     text not null,
  token_hash      text not null,
  expires_at      timestamptz not null,
  revoked_at      timestamptz,
  last_used_at    timestamptz,
  -- Logins the link page checked with this token in the hour since attempts_since.
  link_attempts   integer not null default 0,
  attempts_since  timestamptz,
  created_at      timestamptz not null
);
-- The link page finds a token by its hash.
create unique index link_tokens_hash_idx on link_tokens (token_hash);
-- GET /link-tokens?customer_id=… lists one customer's tokens by id.
create index link_tokens_customer_idx on link_tokens (entity_id, customer_id, id);
