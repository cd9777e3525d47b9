-- OAuth2 client credentials on /api/v3 (issue 17, item 10): the Sendcloud v3
-- integrations spec documents a second security scheme, OAuth2ClientCreds
-- (clientCredentials flow, scope `api`). POST /oauth2/token exchanges a key's
-- public id and secret for a short-lived bearer token. Only the SHA-256 of the
-- token is stored (as for API keys); it is shown once, in the token answer.

create table oauth2_access_tokens (
  id          uuid primary key,
  -- The key the token was issued to: the token acts as that key (its entity,
  -- mode, scopes and rate limit), and stops when the key is revoked or deleted.
  api_key_id  uuid not null references api_keys (id) on delete cascade,
  token_hash  bytea not null,
  scope       text not null check (scope = 'api'),
  expires_at  timestamptz not null,
  created_at  timestamptz not null
);
-- Admission finds a token by its hash.
create unique index oauth2_access_tokens_hash_idx on oauth2_access_tokens (token_hash);
-- Issuing a token clears the key's expired ones.
create index oauth2_access_tokens_key_idx on oauth2_access_tokens (api_key_id, expires_at);
