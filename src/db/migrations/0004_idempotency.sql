-- Idempotency-Key records (SPEC §3). One row per (scope, key): the scope is the
-- caller ("entity:<uuid>:<live|test>", or "admin"), the key is the client's header.
-- The row holds a fingerprint (SHA-256 of method, path and canonical body — never
-- the body itself), the state, and once done the response to replay. Exactly one
-- execution per key rests on the primary key: the claim is one
-- `insert … on conflict do update … where <expired or lease lapsed>`.

create table idempotency_keys (
  scope             text not null,
  key               text not null check (char_length(key) between 1 and 255),
  fingerprint       bytea not null,
  state             text not null check (state in ('in_progress', 'done')),
  -- in_progress only: who holds the lease, and until when. A process that dies
  -- mid-request leaves the lease to lapse; then a retry executes once.
  lease_token       uuid,
  locked_until      timestamptz,
  -- done only: what to replay, byte for byte.
  response_status   smallint,
  response_headers  jsonb,
  response_body     bytea,
  created_at        timestamptz not null,
  expires_at        timestamptz not null,
  primary key (scope, key),
  check ((state = 'in_progress') = (lease_token is not null and locked_until is not null)),
  check ((state = 'done') = (response_status is not null and response_headers is not null and response_body is not null))
);
-- Every idempotent request (claim, look-up, complete, release) is one probe of the
-- primary key (scope, key). The purge job deletes by expiry:
create index idempotency_keys_expires_idx on idempotency_keys (expires_at);
