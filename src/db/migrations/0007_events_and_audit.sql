-- The transactional outbox (events written in the same transaction as the change
-- they describe) and the audit log (who changed what, when, never a secret).

create table events (
  id          uuid primary key,
  entity_id   uuid not null references entities (id) on delete cascade,
  type        text not null,
  data        jsonb not null,
  created_at  timestamptz not null
);
-- Per-entity event listings page by id (UUIDv7: creation order).
create index events_entity_idx on events (entity_id, id);

create table audit_events (
  id           uuid primary key,
  entity_id    uuid references entities (id) on delete cascade,
  actor_type   text not null check (actor_type in ('api_key', 'admin', 'system')),
  actor_id     text,
  action       text not null,
  target_type  text not null,
  target_id    text not null,
  request_id   text,
  changes      jsonb not null default '{}'::jsonb,
  created_at   timestamptz not null
);
-- GET /v1/audit_events pages an entity's log by id, optionally for one target.
create index audit_events_entity_idx on audit_events (entity_id, id);
create index audit_events_target_idx on audit_events (entity_id, target_type, target_id, id);
