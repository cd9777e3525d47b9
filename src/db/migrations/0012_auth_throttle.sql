-- Failed authentications per client address (issue 13, point 8): after
-- PATCHBAY_AUTH_FAILURES_PER_MINUTE failures in a sliding minute, an address is
-- refused (429) before any credential it sends is looked at, on every surface.
-- The same sliding-minute estimate as rate_limit_windows (migration 0005):
-- previous minute's count × the share of it still inside the window + this
-- minute's count. Only failures are written; a success only reads the row
-- (inside admit_api_key, in the statement that admits the key anyway).
-- Unlogged, primary key only, fillfactor for HOT updates: as rate_limit_windows.
-- Rows of addresses quiet for two minutes are worth nothing; the purge job
-- deletes them (auth_failures_purge).
create unlogged table auth_failures (
  client_address text primary key,
  minute_index   bigint not null,
  minute_count   integer not null,
  minute_prev    integer not null
) with (fillfactor = 50);

-- Where an address stands at p_now_ms, without counting anything: throttled
-- when one more failure would not fit in the window.
create function auth_failures_peek(p_address text, p_now_ms bigint, p_per_minute integer)
returns table (throttled boolean, failures_prev integer, failures_count integer)
language plpgsql stable as $$
declare
  m  bigint := p_now_ms / 60000;
  mf double precision := (p_now_ms % 60000) / 60000.0;
  w  auth_failures%rowtype;
  mp integer := 0;
  mc integer := 0;
begin
  select * into w from auth_failures where client_address = p_address;
  if found then
    if w.minute_index >= m then mp := w.minute_prev; mc := w.minute_count;
    elsif w.minute_index = m - 1 then mp := w.minute_count;
    end if;
  end if;
  return query select not (mp * (1 - mf) + mc + 1 <= p_per_minute), mp, mc;
end
$$;

-- One failed authentication: counted if the window has room for it, else the
-- address is throttled (and the failure is not counted, as rate_limit_take
-- does not count refused requests). Row lock per address: every process sees
-- one count.
create function auth_failures_take(p_address text, p_now_ms bigint, p_per_minute integer)
returns table (throttled boolean, failures_prev integer, failures_count integer)
language plpgsql as $$
declare
  m  bigint := p_now_ms / 60000;
  mf double precision := (p_now_ms % 60000) / 60000.0;
  w  auth_failures%rowtype;
  mp integer;
  mc integer;
  ok boolean;
begin
  select * into w from auth_failures where client_address = p_address for update;
  if not found then
    insert into auth_failures values (p_address, m, 0, 0) on conflict (client_address) do nothing;
    select * into w from auth_failures where client_address = p_address for update;
  end if;
  if w.minute_index >= m then m := w.minute_index; mp := w.minute_prev; mc := w.minute_count;
  elsif w.minute_index = m - 1 then mp := w.minute_count; mc := 0;
  else mp := 0; mc := 0;
  end if;
  ok := mp * (1 - mf) + mc + 1 <= p_per_minute;
  if ok then mc := mc + 1; end if;
  update auth_failures set minute_index = m, minute_count = mc, minute_prev = mp where client_address = p_address;
  return query select not ok, mp, mc;
end
$$;

-- One request's admission by API key, in one round trip, in this order:
-- (1) a throttled address is refused before its key is looked at, so the
-- answer says nothing about the key; (2) an unknown, revoked or mismatched
-- key is a failure of the address, counted; (3) a known key is counted
-- against its own rate limit (rate_limit_take). key_id is null unless (3);
-- the caller joins api_keys on it (primary key) for the row.
create function admit_api_key(
  p_key_hash bytea, p_public_key text, p_address text, p_now_ms bigint, p_failures_per_minute integer,
  p_live_per_minute integer, p_live_burst integer, p_test_per_minute integer, p_test_burst integer
)
returns table (
  key_id uuid, throttled boolean, failures_prev integer, failures_count integer,
  allowed boolean, minute_prev integer, minute_count integer, second_prev integer, second_count integer
)
language plpgsql as $$
declare
  f record;
  k api_keys%rowtype;
begin
  select * into f from auth_failures_peek(p_address, p_now_ms, p_failures_per_minute);
  if f.throttled then
    return query select null::uuid, true, f.failures_prev, f.failures_count, false, 0, 0, 0, 0;
    return;
  end if;
  select * into k from api_keys
   where key_hash = p_key_hash and revoked_at is null and (p_public_key is null or public_key = p_public_key);
  if not found then
    select * into f from auth_failures_take(p_address, p_now_ms, p_failures_per_minute);
    return query select null::uuid, f.throttled, f.failures_prev, f.failures_count, false, 0, 0, 0, 0;
    return;
  end if;
  return query
    select k.id, false, f.failures_prev, f.failures_count, t.allowed, t.minute_prev, t.minute_count, t.second_prev, t.second_count
      from rate_limit_take(
        k.id, p_now_ms,
        coalesce(k.rate_limit_per_minute, case k.mode when 'live' then p_live_per_minute else p_test_per_minute end),
        coalesce(k.rate_limit_burst, case k.mode when 'live' then p_live_burst else p_test_burst end)
      ) t;
end
$$;
