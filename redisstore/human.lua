-- human.lua: what people do through the API (a manual incident, an update
-- or resolve, a rename), one atomic step each, keeping the invariants of
-- docs/architecture.md. People act through any replica: these writes are
-- not made on behalf of a component's owner and carry no fence.
--
-- A: op, id (the incident's), at (unix ms), then
--   create: name, status, body, impact (least impact, '' = none),
--           components ([[id, status], ...], absent = none)
--   update: status, body
--   rename: name
-- Returns {'ok', incident JSON} or {'notfound'}.
--
-- Updates people write carry human = true. An incident a person opened or
-- moved carries hand = true (a manual one has auto = false): automation
-- then adds evidence but never changes its status, and it never enters
-- P monitoring, so only a person resolves it (docs/architecture.md). A person's resolve
-- hands an automatic incident back to automation. The component statuses
-- a person sets are kept apart from the automatic ones, in hc, so that
-- automation never overwrites them. A human resolve of an incident
-- whose components still fail sets those components to operational in
-- P components (with h = the incident id): the engine resends every status
-- at least every 30 s, so a failure that persists is seen as a change and
-- reopens the incident through observe.lua's reopen path.

local err = schema_error()
if err then
  return err
end

local op, id, at = A.op, A.id, A.at

-- strip drops the empty tables a manual incident may have: none is ever
-- stored (cjson and miniredis encode them differently).
local function strip(inc)
  for _, f in ipairs({'components', 'component_names', 'codes'}) do
    if inc[f] and next(inc[f]) == nil then
      inc[f] = nil
    end
  end
end

-- done saves inc, after queueing the event kind for the receivers that
-- want it (before strip: the filters read inc.components).
local function done(inc, kind)
  notify(kind, inc, kind ~= 'renamed')
  strip(inc)
  local raw = cjson.encode(inc)
  redis.call('SET', INCIDENT_PREFIX .. inc.id, raw)
  bump()
  return {'ok', raw}
end

local function human_update(inc, status, body)
  add_update(inc, status, body, at, nil)
  inc.updates[#inc.updates].human = true
end

-- in_other_open reports whether an open incident other than id lists comp.
local function in_other_open(comp)
  for _, other in ipairs(redis.call('ZRANGE', K.open, 0, -1)) do
    if other ~= id then
      local o = load_incident(other)
      if o and o.components[comp] then
        return true
      end
    end
  end
  return false
end

-- hold marks the still failing components of a resolved incident
-- operational, so that the failure, when the engine reports it again,
-- reopens the incident.
local function hold(inc)
  for _, comp in ipairs(inc.codes) do
    local raw = redis.call('HGET', K.components, comp)
    if raw then
      local cur = cjson.decode(raw)
      if not HEALTHY[cur.s] and not in_other_open(comp) then
        redis.call('HSET', K.components, comp, cjson.encode({s = 'operational', t = at, d = '', h = id}))
      end
    end
  end
end

-- set_status moves inc to status, keeping P open, P monitoring and
-- P resolved in step with it.
local function set_status(inc, status)
  local old = inc.status
  if status == 'monitoring' then
    if old ~= 'monitoring' then
      inc.monitoring_at = at
    end
  else
    redis.call('ZREM', K.monitoring, id)
    if status ~= 'resolved' then
      inc.monitoring_at = nil
    end
  end
  if status == 'resolved' then
    if old ~= 'resolved' then
      inc.resolved_at = at
      redis.call('ZREM', K.open, id)
      redis.call('ZADD', K.resolved, at, id)
      hold(inc)
    end
  elseif old == 'resolved' then
    inc.resolved_at = nil
    redis.call('ZREM', K.resolved, id)
    redis.call('ZADD', K.open, inc.created_at, id)
  end
  inc.status = status
  if status == 'resolved' then
    inc.hand = nil
  elseif status ~= old or not inc.auto then
    inc.hand = true
  end
end

if op == 'create' then
  if redis.call('EXISTS', INCIDENT_PREFIX .. id) == 1 then
    return redis.error_reply('tocsin incident id ' .. id .. ' already exists')
  end
  local impact = A.impact
  if not impact or impact == '' then
    impact = 'none'
  end
  local inc = {
    id = id, name = A.name, name_locked = true, status = 'investigating', impact = impact,
    auto = false, created_at = at, updated_at = at, started_at = at,
    components = {}, component_names = {}, codes = {}, seq = 0, updates = {},
  }
  if type(A.components) == 'table' then
    for _, pair in ipairs(A.components) do
      local code, s = pair[1], pair[2]
      inc.codes[#inc.codes + 1] = code
      inc.components[code] = s
      inc.component_names[code] = code
      inc.hc = inc.hc or {}
      inc.hc[code] = s
      inc.impact = worse_impact(inc.impact, IMPACT_OF[s] or 'none')
    end
  end
  redis.call('ZADD', K.open, at, id)
  redis.call('ZADD', K.incidents, at, id)
  set_status(inc, A.status)
  human_update(inc, inc.status, A.body)
  return done(inc, 'opened')
end

local inc = load_incident(id)
if not inc then
  return {'notfound'}
end
if op == 'update' then
  local was = inc.status
  set_status(inc, A.status)
  human_update(inc, inc.status, A.body)
  local kind = 'updated'
  if inc.status == 'resolved' and was ~= 'resolved' then
    kind = 'resolved'
  elseif was == 'resolved' and inc.status ~= 'resolved' then
    kind = 'reopened'
  end
  return done(inc, kind)
elseif op == 'rename' then
  inc.name = A.name
  inc.name_locked = true
  inc.updated_at = at
  return done(inc, 'renamed')
end
return redis.error_reply('tocsin human.lua: unknown op ' .. tostring(op))
