-- Webhook endpoints as docs.arcuserp.com/api-reference/webhooks defines them:
-- status active|paused|disabled (paused and disabled receive nothing; 5
-- consecutive failed attempts pause an active endpoint), mode live|test (test
-- endpoints receive test-mode events only, and are what test keys manage),
-- api_version, metadata (≤ 50 keys), the last 4 characters of the signing
-- secret, and delivery counters. `enabled` stays, kept equal to
-- status = 'active' by every write, so the outbox's fan-out reads one column.
alter table webhook_endpoints
  add column status text not null default 'active' check (status in ('active', 'paused', 'disabled')),
  add column mode text not null default 'live' check (mode in ('live', 'test')),
  add column api_version text,
  add column metadata jsonb not null default '{}'::jsonb,
  add column secret_last4 text,
  add column success_count integer not null default 0,
  add column failure_count integer not null default 0,
  add column consecutive_failure_count integer not null default 0,
  add column last_delivery_at timestamptz;
update webhook_endpoints set status = case when enabled then 'active' else 'paused' end;
alter table webhook_endpoints add constraint webhook_endpoints_enabled_is_active check (enabled = (status = 'active'));
