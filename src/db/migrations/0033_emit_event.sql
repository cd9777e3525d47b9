-- The outbox's fan-out (src/services/outbox.ts emitEvent) as a function: the
-- event row and a delivery per webhook target, returning the deliveries; the
-- caller's one statement queues a delivery job per returned row through the
-- queue's own insert (queue/job-types.ts insertJobsFrom), so the jobs table
-- keeps one owner. Issue 16: sent inline with the write's COMMIT, the CTE was
-- parsed and planned afresh for every write (≈ 0.3 ms of the database's CPU);
-- inside a PL/pgSQL function its plan is prepared once per connection and
-- reused. The rules are the ones emitEvent documents.
create function emit_event(
  p_id uuid, p_entity_id uuid, p_type text, p_data jsonb, p_at timestamptz,
  p_simulated boolean, p_shop_event boolean, p_subject_id text, p_endpoint_mode text, p_family text
) returns table (delivery_id uuid, shop boolean)
language plpgsql volatile as $$
begin
  return query
  with event as (
    insert into events (id, entity_id, type, data, created_at)
    values (p_id, p_entity_id, p_type, p_data, p_at)
    returning id, entity_id, type, created_at
  ),
  -- Each target row is locked FOR KEY SHARE: a target deleted by a transaction that committed after this
  -- statement's snapshot is skipped (not inserted against, which the foreign key would refuse), and one
  -- being deleted waits for this event's transaction.
  endpoint_targets as (
    select e.id
    from webhook_endpoints e
    where not p_simulated and e.entity_id = p_entity_id and e.enabled and e.mode = p_endpoint_mode
      and e.events && array[p_type, p_family, '*']::text[]
    for key share
  ),
  connector_targets as (
    select c.id
    from connectors c
    where not p_simulated and p_shop_event and c.entity_id = p_entity_id
      and c.webhook_active and c.webhook_url is not null
      and (c.disconnected_at is null or p_type = 'connector.disconnected')
      and (c.shop_integration_id::text = p_subject_id or c.id::text = p_subject_id)
    for key share
  ),
  destination_targets as (
    select w.id
    from webhook_destinations w
    where w.entity_id = p_entity_id and p_type = any (w.events) and (w.accepts_simulated_events or not p_simulated)
    for key share
  ),
  targets as (
    select id as endpoint_id, null::uuid as connector_id, null::text as destination_id from endpoint_targets
    union all
    select null::uuid, id, null::text from connector_targets
    union all
    select null::uuid, null::uuid, id from destination_targets
  ),
  deliveries as (
    insert into webhook_deliveries (id, event_id, endpoint_id, connector_id, destination_id, next_attempt_at, created_at, updated_at)
    select (left(event.id::text, 19) || right(gen_random_uuid()::text, 17))::uuid, event.id, t.endpoint_id, t.connector_id, t.destination_id,
           event.created_at, event.created_at, event.created_at
    from targets t cross join event
    returning id, connector_id
  )
  -- shop: a shop integration's delivery (its connector), retried on the Sendcloud schedule.
  select d.id, d.connector_id is not null from deliveries d;
end;
$$;
