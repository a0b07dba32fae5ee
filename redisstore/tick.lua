-- tick.lua: resolve incidents whose monitoring period has passed and trim
-- resolved incidents older than the retention, in one atomic step. Cheap when
-- there is nothing to do: two range queries on small sorted sets. lib.lua is
-- prepended.
--
-- ARGV: 1 incident key prefix, 2 now (unix ms), 3 resolve_after (ms),
--       4 retention (ms, 0 = keep forever), 5 body of the resolving update,
--       6 most incidents to delete in this call
-- Returns a flat array {action, incident id, impact, action, ...}.

local err = schema_error()
if err then
  return err
end

local now, resolve_after = tonumber(ARGV[2]), tonumber(ARGV[3])
local retention, body, max_delete = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local out = {}
local changed = false

-- Resolve: every incident that has been monitoring since now - resolve_after.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K_MONITORING, '-inf', now - resolve_after)) do
  local inc = load_incident(id)
  redis.call('ZREM', K_MONITORING, id)
  changed = true
  if inc and inc.status == 'monitoring' then
    inc.status = 'resolved'
    inc.resolved_at = now -- monitoring_at stays: Statuspage shows both
    add_update(inc, 'resolved', body, now, nil)
    save_incident(inc)
    redis.call('ZREM', K_OPEN, id)
    redis.call('ZADD', K_RESOLVED, now, id)
    out[#out + 1] = 'resolved'
    out[#out + 1] = id
    out[#out + 1] = inc.impact
  end
end

-- Trim: delete incidents resolved before now - retention, a bounded number
-- per call; the next tick continues.
if retention > 0 then
  local old = redis.call('ZRANGEBYSCORE', K_RESOLVED, '-inf', '(' .. (now - retention),
    'LIMIT', 0, max_delete)
  for _, id in ipairs(old) do
    redis.call('DEL', INCIDENT_PREFIX .. id)
    redis.call('ZREM', K_RESOLVED, id)
    redis.call('ZREM', K_INCIDENTS, id)
    redis.call('ZREM', K_OPEN, id)
    changed = true
  end
end

if changed then
  bump()
end
return out
