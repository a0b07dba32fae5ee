-- tick.lua: resolve incidents whose monitoring period has passed and trim
-- resolved incidents older than the retention, in one atomic step. Cheap when
-- there is nothing to do: two range queries on small sorted sets.
--
-- A: now (unix ms), resolve_after (ms), retention (ms, 0 = keep forever),
--    body of the resolving update, gone_body (the body instead when some of
--    the incident's components left monitoring before they recovered: its
--    '{gone}' is replaced by their names), max_delete (most incidents to
--    delete in this call), member (the replica ticking: only a live member
--    may).
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
  if inc and inc.status == 'monitoring' and not by_hand(inc) then
    inc.status = 'resolved'
    inc.resolved_at = now -- monitoring_at stays: Statuspage shows both
    local text = body
    if type(inc.gone) == 'table' and A.gone_body and A.gone_body ~= '' then
      local names = {}
      for _, code in ipairs(inc.codes) do
        if inc.gone[code] then
          names[#names + 1] = inc.gone[code]
        end
      end
      if #names > 0 then
        local list = table.concat(names, ', ')
        text = string.gsub(A.gone_body, '{gone}', function() return list end)
      end
    end
    add_update(inc, 'resolved', text, now, nil)
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
