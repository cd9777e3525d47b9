-- Idempotency-Key outcomes commit in the same transaction as the write they
-- answer (SPEC §3; RELIABILITY.md "(b) crash mid-write"). A key being executed
-- is no longer a row with a lease: it is a transaction-scoped advisory lock
-- held by the executing request's transaction. A process that dies mid-request
-- loses its connection, PostgreSQL rolls the transaction back and releases the
-- lock: nothing of the request remains, and a retry executes it once. A slow
-- request keeps its lock for as long as it runs: no lease can lapse under it.
--
-- Rows are written only as 'done', by the executing transaction just before it
-- commits. The in_progress state and its lease columns stay for rows written
-- by older versions; such a row is treated as absent and overwritten.

-- The claim, in one round trip: take the key's lock without waiting, then read
-- its stored answer. In a volatile PL/pgSQL function each statement takes a
-- fresh snapshot, so the read sees every answer committed before the lock was
-- granted (one statement doing both would not: its snapshot predates the lock).
create function idempotency_claim(p_lock bigint, p_scope text, p_key text, p_now timestamptz)
returns table (locked boolean, fingerprint bytea, response_status smallint, response_headers jsonb, response_body bytea)
language plpgsql volatile as $$
begin
  if not pg_try_advisory_xact_lock(p_lock) then
    return query select false, null::bytea, null::smallint, null::jsonb, null::bytea;
    return;
  end if;
  return query
    select true, k.fingerprint, k.response_status, k.response_headers, k.response_body
    from idempotency_keys k
    where k.scope = p_scope and k.key = p_key and k.state = 'done' and k.expires_at > p_now;
  if not found then
    return query select true, null::bytea, null::smallint, null::jsonb, null::bytea;
  end if;
end;
$$;
