-- observe.lua: record one component status and apply the incident lifecycle
-- (docs/architecture.md) in one atomic step, on behalf of the component's owner.
--
-- A: comp, name, status, at (unix ms), started (unix ms), body, new_id,
--    group_window (ms, 0 = never join), group_by ('relation' or 'window'),
--    group (the component's group, '' = none), links (the ids of the
--    components linked to it through depends_on, either way),
--    reopen_window (ms, 0 = never),
--    detail (which checks are behind the status), parents (the ids of the
--    components this one depends on), fence ({m, k}: the owner's grant),
--    retire (true: the component left the config; see below), gone (when
--    the status is no recovery because checks or the component left
--    monitoring: what left, named for the resolving update; tick.lua);
--    with vantages, vantage (the observing one's), vantages (those that
--    probe the component), quorum (0: a majority) and regional
--    ('degraded' or ''): status, body and detail are then that vantage's
--    verdict, which quorum.lua combines with the others'.
-- Returns {action, incident id, impact}; id and impact are '' when no
-- incident is involved; {FENCED, '', ''} when the fence is stale. With
-- vantages a fourth value follows: the component's combined status.

local err = schema_error()
if err then
  return err
end

local comp, cname, new = A.comp, A.name, A.status
local at, started = A.at, A.started
local body, new_id = A.body, A.new_id
local group_window, reopen_window = A.group_window, A.reopen_window
local REOPEN_SCAN = 20

-- Only the owner's grant may write. A component that left the config may
-- be retired by any replica once no live replica owns it any more (a
-- replica still running the old config keeps it until it reloads), and
-- its grant goes with it.
local now = now_ms()
if A.retire then
  local field = owner_field(comp, A.fence.m)
  local cur = redis.call('HGET', K.owners, field)
  local holder = cur and string.match(cur, '^(%S+) ')
  if holder and holder ~= A.fence.m and live(holder, now) then
    return reply{FENCED, '', ''}
  end
  redis.call('HDEL', K.owners, field)
elseif not owned(comp, A.fence, now) then
  return reply{FENCED, '', ''}
end
if A.retire then
  redis.call('HDEL', K.verdicts, comp)
elseif A.vantage and A.vantage ~= '' then
  -- One vantage's verdict: the component's status is the quorum's
  -- (quorum.lua).
  new, body, A.detail = combine(comp, now)
  COMBINED = new
end

local detail = A.detail or ''
local old, old_detail, held = 'operational', '', nil
local raw = redis.call('HGET', K.components, comp)
if raw then
  local stored = cjson.decode(raw)
  -- held: a person resolved this incident while the component still failed
  -- (human.lua); a confirmed failure reopens that very incident.
  old, old_detail, held = stored.s, stored.d or '', stored.h
end
if old == new and old_detail == detail then
  -- Idempotent replay, or a state the store already has: nothing to do.
  return reply{'none', '', ''}
end

-- A retired component's last status is not a recovery: its update names no
-- component change (the body says it left monitoring).
local change = {code = comp, name = cname, old_status = old, new_status = new}
if A.retire then
  change = nil
end

-- touch puts the component's new status into an incident.
local function touch(inc)
  if not inc.components[comp] then
    inc.codes[#inc.codes + 1] = comp
  end
  inc.components[comp] = new
  inc.component_names[comp] = cname
  if A.group and A.group ~= '' then
    inc.groups = inc.groups or {}
    inc.groups[A.group] = true
  end
  if A.gone and A.gone ~= '' then
    inc.gone = inc.gone or {}
    inc.gone[comp] = A.gone
  elseif type(inc.gone) == 'table' and inc.gone[comp] then
    -- Back in the config: its recovery can be seen again.
    inc.gone[comp] = nil
    if next(inc.gone) == nil then
      inc.gone = nil
    end
  end
  -- Impact never decreases during an incident: it shows the peak.
  inc.impact = worse_impact(inc.impact, IMPACT_OF[new] or 'none')
  rename(inc)
end

local function all_healthy(inc)
  for _, s in pairs(inc.components) do
    if not HEALTHY[s] then
      return false
    end
  end
  return true
end

-- investigate returns inc to investigating, unless a person set its
-- status: automation only adds evidence to such an incident.
local function investigate(inc)
  if by_hand(inc) then
    return
  end
  inc.status = 'investigating'
  inc.monitoring_at = nil
  redis.call('ZREM', K.monitoring, inc.id)
end

-- finish stores the component's status and the incidents changed (inc,
-- and also: {inc, action} pairs), each with its notifications.
local function finish(action, inc, also)
  redis.call('HSET', K.components, comp, cjson.encode({s = new, t = at, d = detail}))
  if inc then
    notify(action, inc)
    save_incident(inc)
  end
  for _, other in ipairs(also or {}) do
    notify(other[2], other[1])
    save_incident(other[1])
  end
  bump()
  if inc then
    return reply{action, inc.id, inc.impact}
  end
  return reply{action, '', ''}
end

-- refresh sets every other component of a reopened incident to its current
-- stored status: the incident may have been resolved while one of them went
-- on to fail inside another incident.
local function refresh(inc)
  for c, _ in pairs(inc.components) do
    if c ~= comp then
      local cur = redis.call('HGET', K.components, c)
      inc.components[c] = cur and cjson.decode(cur).s or 'operational'
    end
  end
end

-- The open incidents, newest first.
local open = {}
for _, id in ipairs(redis.call('ZREVRANGE', K.open, 0, -1)) do
  local inc = load_incident(id)
  if inc then
    open[#open + 1] = inc
  end
end

-- 1. The component is already part of open incidents: update each of them
-- (after a reopen it can be listed in two), report the newest.
local function apply(inc)
  touch(inc)
  local action, text = 'updated', body
  if by_hand(inc) then
    -- A person opened or moved it: its status stays theirs, and only a
    -- person resolves it.
  elseif all_healthy(inc) then
    if inc.status ~= 'monitoring' then
      action = 'monitoring'
      inc.status = 'monitoring'
      inc.monitoring_at = at
      redis.call('ZADD', K.monitoring, at, inc.id)
      if A.gone and A.gone ~= '' then
        text = sentence(body, 'No other affected component is failing; monitoring.')
      else
        text = sentence(body, 'All affected components are operational again; monitoring.')
      end
    end
  elseif inc.status == 'monitoring' then
    action = 'reopened'
    investigate(inc)
    text = sentence(body, 'The problem has recurred; investigating again.')
  end
  add_update(inc, inc.status, text, at, change)
  return action
end

local first, first_action, others = nil, nil, {}
for _, inc in ipairs(open) do
  if inc.components[comp] then
    local action = apply(inc)
    if first then
      others[#others + 1] = {inc, action}
    else
      first, first_action = inc, action
    end
  end
end
if first then
  return finish(first_action, first, others)
end

if HEALTHY[new] or old == new then
  -- Healthy, or only the detail changed with no open incident to tell.
  return finish('component', nil)
end

-- join adds the component to an open incident it was not part of.
local function join(inc, text)
  touch(inc)
  if inc.status == 'monitoring' then
    investigate(inc)
  end
  add_update(inc, inc.status, text, at, change)
  return finish('joined', inc)
end

-- reopen brings a resolved incident back to investigating.
-- A person's resolve is undone only by a failure confirmed again, so this
-- returns even an incident a person handles to investigating.
local function reopen(inc, text)
  refresh(inc)
  touch(inc)
  inc.status = 'investigating'
  inc.monitoring_at = nil
  redis.call('ZREM', K.monitoring, inc.id)
  inc.resolved_at = nil
  redis.call('ZREM', K.resolved, inc.id)
  redis.call('ZADD', K.open, inc.created_at, inc.id)
  add_update(inc, inc.status, text, at, change)
  return finish('reopened', inc)
end

-- 1b. A person resolved the incident while this component still failed, and
-- the failure is now confirmed again: reopen that incident, whatever the
-- windows say.
if held then
  local inc = load_incident(held)
  if inc and inc.status == 'resolved' then
    return reopen(inc, sentence(body, 'The failure is confirmed again after a manual resolve; reopening.'))
  end
end

-- 2. A relapse: reopen the most recently resolved incident with this
-- component if it was resolved within the reopen window. It takes
-- precedence over joining another incident (docs/architecture.md).
if reopen_window > 0 then
  local recent = redis.call('ZREVRANGEBYSCORE', K.resolved, '+inf', at - reopen_window,
    'LIMIT', 0, REOPEN_SCAN)
  for _, id in ipairs(recent) do
    local inc = load_incident(id)
    if inc and inc.status == 'resolved' and inc.components[comp] then
      return reopen(inc, sentence(body, 'The problem has recurred shortly after it was resolved; investigating again.'))
    end
  end
end

-- 3. A parent (depends_on) is bad in an open incident: join the newest such
-- incident, however old, and say what likely caused this.
local parents = A.parents or {}
for _, inc in ipairs(open) do
  for _, p in ipairs(parents) do
    local ps = inc.components[p]
    if ps and not HEALTHY[ps] then
      local pname = inc.component_names[p]
      if not pname or pname == '' then
        pname = p
      end
      return join(inc, sentence(body, 'This is likely caused by ' .. pname .. ', which is ' ..
        (string.gsub(ps, '_', ' ')) .. '.'))
    end
  end
end

-- 4. Join an open automatic incident that began within the group window:
-- under 'window' the newest one, whatever it holds; under 'relation' (the
-- default) the newest one that holds a component of the same group or one
-- linked to this one through depends_on. open is newest first, so the
-- search ends at the first incident older than the window.
local function related(inc)
  if A.group and A.group ~= '' and type(inc.groups) == 'table' and inc.groups[A.group] then
    return true
  end
  for _, l in ipairs(A.links or {}) do
    if inc.components[l] then
      return true
    end
  end
  return false
end

if group_window > 0 then
  for _, inc in ipairs(open) do
    if inc.auto then
      if inc.created_at < at - group_window then
        break
      end
      if A.group_by == 'window' then
        return join(inc, body)
      end
      if related(inc) then
        return join(inc, body)
      end
    end
  end
end

-- 5. A new incident.
if redis.call('EXISTS', INCIDENT_PREFIX .. new_id) == 1 then
  return redis.error_reply('tocsin incident id ' .. new_id .. ' already exists')
end
local inc = {
  id = new_id, name = '', name_locked = false, status = 'investigating', impact = 'none',
  auto = true, created_at = at, updated_at = at, started_at = started,
  components = {}, component_names = {}, codes = {}, seq = 0, updates = {},
}
touch(inc)
add_update(inc, 'investigating', body, at, change)
redis.call('ZADD', K.open, at, new_id)
redis.call('ZADD', K.incidents, at, new_id)
return finish('opened', inc)
