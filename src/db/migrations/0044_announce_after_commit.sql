-- Issue 16: the change feed's announcements (migration 0031) leave the writing
-- transaction. A NOTIFY makes its transaction take PostgreSQL's one notify lock
-- (a lock on "database 0", for the whole cluster) at commit and hold it until
-- the commit's WAL flush is done, so every transaction that wrote a connector
-- waited for the fsync of the one before: with 10 connections, 420–520 commits
-- a second instead of 1,800–2,700 (the same UPDATE without the NOTIFY), which
-- capped every write to connectors and made their latency queue up.
--
-- A Patchbay connection now says so at connect (`set
-- patchbay.announce_after_commit = on`, src/db/index.ts): on it, the trigger keeps
-- the announcement in the session's setting patchbay.announcements (set_config
-- is transactional: a rollback takes it back, a commit keeps it), and the
-- driver sends `select patchbay_announce_changes()` right behind the COMMIT, in
-- the same message (src/db/pg-driver.ts): a transaction of its own, committed
-- without waiting for its flush (synchronous_commit off: a notification lost in
-- a crash costs at most the caches' TTL, as any missed notification does), so
-- the notify lock is held for microseconds. Any other session (psql, a process
-- of an older version during an upgrade) announces at commit as before.
create or replace function patchbay_announce_change() returns trigger
language plpgsql as $$
declare
  r record;
  payload text;
  pending text;
begin
  if tg_op = 'DELETE' then r := old; else r := new; end if;
  if tg_table_name = 'api_keys' then
    payload := 'api_keys:' || r.id::text;
  elsif tg_table_name = 'connectors' then
    payload := 'connectors:' || r.entity_id::text;
  else
    payload := 'vault_secrets:' || r.owner_id::text;
  end if;
  if current_setting('patchbay.announce_after_commit', true) is distinct from 'on' then
    perform pg_notify('patchbay_changes', payload);
    return null;
  end if;
  -- Space-separated, each payload once (ids hold no spaces). Past about 80 of them (a bulk write) the table's
  -- name alone stands for the rest: "anything of that table may have changed" (change-feed.ts parseAnnouncement).
  pending := ' ' || coalesce(current_setting('patchbay.announcements', true), '') || ' ';
  if position(' ' || payload || ' ' in pending) > 0 or position(' ' || tg_table_name || ' ' in pending) > 0 then
    return null;
  end if;
  if length(pending) > 4000 then
    payload := tg_table_name;
  end if;
  perform set_config('patchbay.announcements', btrim(pending || payload), false);
  return null;
end
$$;

-- Sends what the session's committed transactions left to announce, and forgets it. Never raises.
create function patchbay_announce_changes() returns void
language plpgsql as $$
declare
  pending text := current_setting('patchbay.announcements', true);
  payload text;
begin
  if pending is null or pending = '' then
    return;
  end if;
  perform set_config('patchbay.announcements', '', false);
  perform set_config('synchronous_commit', 'off', true);
  foreach payload in array string_to_array(pending, ' ') loop
    perform pg_notify('patchbay_changes', payload);
  end loop;
exception when others then
  -- A notification not sent costs at most the caches' TTL; the committed write stands.
  return;
end
$$;
