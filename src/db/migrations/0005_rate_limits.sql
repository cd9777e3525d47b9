-- Rate limits per API key (SPEC §2): per-key overrides, and the sliding-window
-- counters every process shares.

-- Overrides set at key creation; null means the mode's default (PATCHBAY_RATE_LIMIT_*).
-- Read with the key itself on every request (api_keys_key_hash_idx): no extra query.
alter table api_keys
  add column rate_limit_per_minute integer check (rate_limit_per_minute between 1 and 1000000),
  add column rate_limit_burst integer check (rate_limit_burst between 1 and 1000000);

-- Two sliding windows per key (60 s and 1 s), each as "count in the current fixed
-- window" plus "count in the previous one"; the estimate over the last window is
-- prev × (share of the previous window still inside it) + current.
-- Unlogged: counters are worth nothing after a crash, and skipping WAL makes the
-- one write per request cheap. Only the primary key is indexed and no indexed
-- column changes, so updates stay HOT; fillfactor leaves them room on the page.
create unlogged table rate_limit_windows (
  api_key_id    uuid primary key references api_keys (id) on delete cascade,
  minute_index  bigint not null,
  minute_count  integer not null,
  minute_prev   integer not null,
  second_index  bigint not null,
  second_count  integer not null,
  second_prev   integer not null
) with (fillfactor = 50);

-- One request's admission, atomically, in one round trip: lock the key's row
-- (primary key probe), roll both windows forward to p_now_ms, admit if both
-- estimates leave room for one more, count it, and answer the counts after the
-- decision. Rejected requests are not counted. A window index from a process
-- whose clock runs ahead is kept rather than reset, so clock skew never
-- clears a key's counters. The Redis backend runs the same steps in Lua
-- (src/ratelimit/redis-store.ts).
create function rate_limit_take(p_key uuid, p_now_ms bigint, p_per_minute integer, p_burst integer)
returns table (allowed boolean, minute_prev integer, minute_count integer, second_prev integer, second_count integer)
language plpgsql as $$
declare
  m   bigint := p_now_ms / 60000;
  s   bigint := p_now_ms / 1000;
  mf  double precision := (p_now_ms % 60000) / 60000.0;
  sf  double precision := (p_now_ms % 1000) / 1000.0;
  w   rate_limit_windows%rowtype;
  mp  integer;
  mc  integer;
  sp  integer;
  sc  integer;
  ok  boolean;
begin
  select * into w from rate_limit_windows where api_key_id = p_key for update;
  if not found then
    insert into rate_limit_windows values (p_key, m, 0, 0, s, 0, 0) on conflict (api_key_id) do nothing;
    select * into w from rate_limit_windows where api_key_id = p_key for update;
  end if;

  if w.minute_index >= m then m := w.minute_index; mp := w.minute_prev; mc := w.minute_count;
  elsif w.minute_index = m - 1 then mp := w.minute_count; mc := 0;
  else mp := 0; mc := 0;
  end if;
  if w.second_index >= s then s := w.second_index; sp := w.second_prev; sc := w.second_count;
  elsif w.second_index = s - 1 then sp := w.second_count; sc := 0;
  else sp := 0; sc := 0;
  end if;

  ok := mp * (1 - mf) + mc + 1 <= p_per_minute and sp * (1 - sf) + sc + 1 <= p_burst;
  if ok then
    mc := mc + 1;
    sc := sc + 1;
  end if;

  update rate_limit_windows
     set minute_index = m, minute_count = mc, minute_prev = mp,
         second_index = s, second_count = sc, second_prev = sp
   where api_key_id = p_key;
  return query select ok, mp, mc, sp, sc;
end
$$;
