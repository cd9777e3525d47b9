-- Admission with a lease (issue 16, point 1; src/services/admission.ts).
--
-- A process that admits a key asks for up to p_want requests' worth of its
-- rate limit at once and admits them from memory until the end of the
-- one-second window it was granted in. Granted requests are counted here as
-- if they had been admitted (so no process, and no two together, is ever
-- admitted beyond the limit); what the process did not use is given back the
-- next time it asks (p_return of the window p_return_second), so the counts
-- converge on the requests actually admitted. p_want = 1 is exactly
-- rate_limit_take().
--
-- Same order of checks as admit_api_key (0012, 0021): a throttled address is
-- refused before its key is looked at; an unknown, revoked or mismatched key
-- is a failure of the address. Besides the counts it answers `granted`
-- (0 when refused).
create function admit_api_key_lease(
  p_key_hash bytea, p_public_key text, p_address text, p_now_ms bigint, p_failures_per_minute integer,
  p_live_per_minute integer, p_live_burst integer, p_test_per_minute integer, p_test_burst integer,
  p_want integer, p_return integer, p_return_second bigint
)
returns table (
  key_id uuid, throttled boolean, failures_prev integer, failures_count integer,
  allowed boolean, granted integer, minute_prev integer, minute_count integer, second_prev integer, second_count integer
)
language plpgsql as $$
declare
  f   record;
  k   api_keys%rowtype;
  lim integer;
  bst integer;
  m   bigint := p_now_ms / 60000;
  s   bigint := p_now_ms / 1000;
  mf  double precision := (p_now_ms % 60000) / 60000.0;
  sf  double precision := (p_now_ms % 1000) / 1000.0;
  w   rate_limit_windows%rowtype;
  rm  bigint;
  mp  integer;
  mc  integer;
  sp  integer;
  sc  integer;
  g   integer;
begin
  select * into f from auth_failures_peek(p_address, p_now_ms, p_failures_per_minute);
  if f.throttled then
    return query select null::uuid, true, f.failures_prev, f.failures_count, false, 0, 0, 0, 0, 0;
    return;
  end if;
  select * into k from api_keys
   where key_hash = p_key_hash and (revoked_at is null or revoked_at > to_timestamp(p_now_ms / 1000.0)) and (p_public_key is null or public_key = p_public_key);
  if not found then
    select * into f from auth_failures_take(p_address, p_now_ms, p_failures_per_minute);
    return query select null::uuid, f.throttled, f.failures_prev, f.failures_count, false, 0, 0, 0, 0, 0;
    return;
  end if;
  lim := coalesce(k.rate_limit_per_minute, case k.mode when 'live' then p_live_per_minute else p_test_per_minute end);
  bst := coalesce(k.rate_limit_burst, case k.mode when 'live' then p_live_burst else p_test_burst end);

  select * into w from rate_limit_windows where api_key_id = k.id for update;
  if not found then
    insert into rate_limit_windows values (k.id, m, 0, 0, s, 0, 0) on conflict (api_key_id) do nothing;
    select * into w from rate_limit_windows where api_key_id = k.id for update;
  end if;

  -- The unused rest of an earlier lease, back into the windows it was counted in (if they are still kept).
  if p_return > 0 then
    rm := (p_return_second * 1000) / 60000;
    if w.second_index = p_return_second then w.second_count := greatest(0, w.second_count - p_return);
    elsif w.second_index = p_return_second + 1 then w.second_prev := greatest(0, w.second_prev - p_return);
    end if;
    if w.minute_index = rm then w.minute_count := greatest(0, w.minute_count - p_return);
    elsif w.minute_index = rm + 1 then w.minute_prev := greatest(0, w.minute_prev - p_return);
    end if;
  end if;

  -- Roll both windows forward to p_now_ms (as rate_limit_take, migration 0005).
  if w.minute_index >= m then m := w.minute_index; mp := w.minute_prev; mc := w.minute_count;
  elsif w.minute_index = m - 1 then mp := w.minute_count; mc := 0;
  else mp := 0; mc := 0;
  end if;
  if w.second_index >= s then s := w.second_index; sp := w.second_prev; sc := w.second_count;
  elsif w.second_index = s - 1 then sp := w.second_count; sc := 0;
  else sp := 0; sc := 0;
  end if;

  -- As many as both windows have room for, up to p_want: est + g <= limit.
  g := least(
    greatest(p_want, 1)::double precision,
    floor(lim - (mp * (1 - mf) + mc)),
    floor(bst - (sp * (1 - sf) + sc))
  )::integer;
  if g < 1 then g := 0; end if;
  mc := mc + g;
  sc := sc + g;

  update rate_limit_windows
     set minute_index = m, minute_count = mc, minute_prev = mp,
         second_index = s, second_count = sc, second_prev = sp
   where api_key_id = k.id;
  return query select k.id, false, f.failures_prev, f.failures_count, g > 0, g, mp, mc, sp, sc;
end
$$;

-- Who must forget what (src/db/change-feed.ts): every process keeps admitted
-- keys and proxied connectors in memory for at most PATCHBAY_CACHE_TTL_MS;
-- a change to one is announced on the channel patchbay_changes, delivered at
-- commit to every process that listens, which then forgets it at once.
-- Payload: "<table>:<id>" (api_keys: the key's id; connectors and
-- vault_secrets: the owning entity's or owner's id). Only changes of what the
-- caches hold are announced (not, e.g., an api key's last_used_at).
create function patchbay_announce_change() returns trigger
language plpgsql as $$
declare
  r record;
begin
  if tg_op = 'DELETE' then r := old; else r := new; end if;
  if tg_table_name = 'api_keys' then
    perform pg_notify('patchbay_changes', 'api_keys:' || r.id::text);
  elsif tg_table_name = 'connectors' then
    perform pg_notify('patchbay_changes', 'connectors:' || r.entity_id::text);
  else
    perform pg_notify('patchbay_changes', 'vault_secrets:' || r.owner_id::text);
  end if;
  return null;
end
$$;

create trigger api_keys_announce
  after update of revoked_at, scopes, mode, public_key, key_hash, rate_limit_per_minute, rate_limit_burst, entity_id or delete on api_keys
  for each row execute function patchbay_announce_change();
create trigger connectors_announce
  after insert or update or delete on connectors
  for each row execute function patchbay_announce_change();
create trigger vault_secrets_announce
  after insert or update or delete on vault_secrets
  for each row execute function patchbay_announce_change();
