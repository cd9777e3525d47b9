-- A rolled API key (POST /admin/v1/api-keys/{id}/roll) keeps working until
-- the end of its overlap: its revoked_at is then in the future. The one-round-
-- trip admission of 0012 treated any revoked_at as revoked; this is the same
-- function with "revoked_at is null" widened to "not yet revoked at p_now_ms".
create or replace function admit_api_key(
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
   where key_hash = p_key_hash and (revoked_at is null or revoked_at > to_timestamp(p_now_ms / 1000.0)) and (p_public_key is null or public_key = p_public_key);
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
