-- outbox.lua: the outbox work that is not part of a transition, by A.op:
--
--   remind: queue a reminder for receiver A.receiver of every open incident
--     it takes that it was told nothing about for A.every ms, on behalf of
--     the receiver's owner (A.fence: its grant of notify:<receiver>).
--     Returns how many it queued, -1 if the fence is stale.
--   event: queue A.event for the receivers A.to, once: only if A.marker
--     (P notify:marker:<marker>) was not set within A.ttl ms. Returns 1 if
--     it queued, 0 if not.
--   backlog: for every consumer group, how many entries it has not
--     acknowledged (pending, plus not yet read up to A.cap), and trim the
--     stream below the oldest entry any group still needs. Returns {group,
--     count, ...}.

local err = schema_error()
if err then
  return err
end

local now = now_ms()

if A.op == 'remind' then
  if not owned('notify:' .. A.receiver, A.fence, now) then
    return -1
  end
  local r = nil
  for _, f in ipairs(A.receivers or {}) do
    if f.n == A.receiver then
      r = f
    end
  end
  if not r then
    return 0
  end
  local n = 0
  for _, id in ipairs(redis.call('ZRANGE', K.open, 0, -1)) do
    local inc = load_incident(id)
    if inc and wanted_by(r, 'reminder', inc, false) then
      local last = tonumber(redis.call('HGET', P .. 'notify:last:' .. A.receiver, id) or '0')
      if now - last >= A.every then
        append(event_of('reminder', inc, nil, now), {A.receiver}, id)
        n = n + 1
      end
    end
  end
  return n
end

if A.op == 'event' then
  if not redis.call('SET', P .. 'notify:marker:' .. A.marker, now, 'NX', 'PX', A.ttl) then
    return 0
  end
  local ev = A.event
  ev.at = now
  append(ev, A.to, nil)
  return 1
end

if A.op == 'backlog' then
  if redis.call('EXISTS', K.outbox) == 0 then
    return {}
  end
  local out, min = {}, nil
  -- id splits a stream id "ms-seq" (miniredis writes a new group's as
  -- "0").
  local function id(s)
    local ms, seq = string.match(s, '^(%d+)-?(%d*)$')
    return tonumber(ms) or 0, tonumber(seq) or 0
  end
  local function older(a, b)
    local am, as = id(a)
    local bm, bs = id(b)
    return am < bm or (am == bm and as < bs)
  end
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', K.outbox)) do
    local info = {}
    for i = 1, #g, 2 do
      info[g[i]] = g[i + 1]
    end
    local pending, last = tonumber(info['pending']), info['last-delivered-id']
    local unread = redis.call('XRANGE', K.outbox, last, '+', 'COUNT', A.cap + 1)
    local n = #unread
    if n > 0 and unread[1][1] == last then
      n = n - 1
    end
    out[#out + 1] = info['name']
    out[#out + 1] = tostring(pending + n)
    local need = last
    if pending > 0 then
      need = redis.call('XPENDING', K.outbox, info['name'], '-', '+', 1)[1][1]
    end
    if not min or older(need, min) then
      min = need
    end
  end
  if min and id(min) > 0 then
    redis.call('XTRIM', K.outbox, 'MINID', min)
  end
  return out
end

return redis.error_reply('tocsin outbox.lua: unknown op ' .. tostring(A.op))
