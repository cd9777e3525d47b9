-- The background job queue: one row per pending (or finally failed) job.
-- Workers in any number of processes claim due rows with FOR UPDATE SKIP LOCKED,
-- so each job has one claimant; a claim moves run_at to the end of its lease,
-- so a job whose worker died becomes due again by itself.

create table jobs (
  id            uuid primary key,
  name          text not null,
  payload       jsonb not null default '{}'::jsonb,
  state         text not null default 'queued' check (state in ('queued', 'failed')),
  -- When the job is next due: its schedule, a retry's backoff, or the end of a running claim's lease.
  run_at        timestamptz not null,
  attempts      integer not null default 0,
  max_attempts  integer not null check (max_attempts >= 1),
  -- At most one queued job per key: idempotent scheduling across processes.
  singleton_key text,
  -- Set while a worker holds the job; completing requires the same token, so a
  -- worker whose lease ran out cannot finish a job another worker now holds.
  lease_token   uuid,
  claimed_at    timestamptz,
  last_error    text,
  created_at    timestamptz not null,
  updated_at    timestamptz not null
);
-- The claim query: due queued jobs in run_at order.
create index jobs_due_idx on jobs (run_at) where state = 'queued';
-- enqueue(..., { singletonKey }) dedupes on this (insert … on conflict do nothing).
create unique index jobs_singleton_idx on jobs (singleton_key) where state = 'queued' and singleton_key is not null;
