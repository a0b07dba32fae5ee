-- tick.lua: resolve incidents whose monitoring period has passed and trim
-- resolved incidents older than the retention, in one atomic step. Cheap when
-- there is nothing to do: two range queries on small sorted sets.
--
-- A: now (unix ms), resolve_after (ms), retention (ms, 0 = keep forever),
--    body of the resolving update, max_delete (most incidents to delete in
--    this call), member (the replica ticking: only a live member may).
-- Returns a flat array {action, incident id, impact, action, ...};
-- {FENCED, '', ''} when member holds no live lease (it was paused or cut
-- off for longer than its lease: it may not act on a state it no longer
-- follows).

local err = schema_error()
if err then
  return err
end

if not live(A.member, now_ms()) then
  return {FENCED, '', ''}
end

local now, resolve_after = A.now, A.resolve_after
local retention, body, max_delete = A.retention, A.body, A.max_delete
local out = {}
local changed = false

-- Resolve: every incident that has been monitoring since now - resolve_after.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.monitoring, '-inf', now - resolve_after)) do
  local inc = load_incident(id)
  redis.call('ZREM', K.monitoring, id)
  changed = true
  if inc and inc.status == 'monitoring' then
    inc.status = 'resolved'
    inc.resolved_at = now -- monitoring_at stays: Statuspage shows both
    add_update(inc, 'resolved', body, now, nil)
    notify('resolved', inc)
    save_incident(inc)
    redis.call('ZREM', K.open, id)
    redis.call('ZADD', K.resolved, now, id)
    out[#out + 1] = 'resolved'
    out[#out + 1] = id
    out[#out + 1] = inc.impact
  end
end

-- Trim: delete incidents resolved before now - retention, a bounded number
-- per call; the next tick continues.
if retention > 0 then
  local old = redis.call('ZRANGEBYSCORE', K.resolved, '-inf', '(' .. (now - retention),
    'LIMIT', 0, max_delete)
  for _, id in ipairs(old) do
    redis.call('DEL', INCIDENT_PREFIX .. id)
    redis.call('ZREM', K.resolved, id)
    redis.call('ZREM', K.incidents, id)
    redis.call('ZREM', K.open, id)
    changed = true
  end
end

if changed then
  bump()
end
return out
