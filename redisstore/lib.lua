-- lib.lua: helpers shared by tocsin's scripts. The Go side prepends this file
-- to observe.lua and tick.lua, so each script stays one EVALSHA.
--
-- Every script gets the same KEYS (see keys.go and docs/architecture-keys.md):
--   1 schema  2 version  3 components  4 open  5 incidents  6 monitoring
--   7 resolved
-- and ARGV[1] is the prefix of the per-incident keys ("<prefix>{st}:incident:").
-- All keys share the {st} hash tag, so they live in one Cluster slot.
--
-- Portability: the same text runs on Redis (Lua 5.1, cjson) and on miniredis
-- (gopher-lua, encoding/json). cjson encodes an empty table as {} and
-- miniredis as [], so no script ever stores an empty table. Times are integer
-- unix milliseconds, exact in a Lua double.

local SCHEMA = '1'
local MAX_UPDATES = 100

local K_SCHEMA, K_VERSION, K_COMPONENTS = KEYS[1], KEYS[2], KEYS[3]
local K_OPEN, K_INCIDENTS, K_MONITORING, K_RESOLVED = KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local INCIDENT_PREFIX = ARGV[1]

-- Component statuses that need no incident.
local HEALTHY = {operational = true, under_maintenance = true}
local IMPACT_OF = {degraded_performance = 'minor', partial_outage = 'major', major_outage = 'critical'}
local IMPACT_RANK = {none = 0, minor = 1, major = 2, critical = 3}
local NAME_OF = {none = 'Incident', minor = 'Degraded performance', major = 'Partial outage',
  critical = 'Major outage'}

-- schema_error returns an error reply if the data was written by another
-- schema version, so a mixed-version rollout fails instead of corrupting it.
local function schema_error()
  local have = redis.call('GET', K_SCHEMA)
  if have and have ~= SCHEMA then
    return redis.error_reply('tocsin schema mismatch: have ' .. have .. ' want ' .. SCHEMA)
  end
  return nil
end

-- bump marks a change: stamps the schema and increments the version.
local function bump()
  redis.call('SET', K_SCHEMA, SCHEMA)
  redis.call('INCR', K_VERSION)
end

local function load_incident(id)
  local raw = redis.call('GET', INCIDENT_PREFIX .. id)
  if not raw then
    return nil
  end
  local inc = cjson.decode(raw)
  if not inc.codes then
    -- Written without a join order (e.g. by hand): fall back to sorted ids.
    inc.codes = {}
    for code in pairs(inc.components or {}) do
      inc.codes[#inc.codes + 1] = code
    end
    table.sort(inc.codes)
  end
  inc.components = inc.components or {}
  inc.component_names = inc.component_names or {}
  return inc
end

local function save_incident(inc)
  redis.call('SET', INCIDENT_PREFIX .. inc.id, cjson.encode(inc))
end

local function worse_impact(a, b)
  if (IMPACT_RANK[b] or 0) > (IMPACT_RANK[a] or 0) then
    return b
  end
  return a
end

-- rename recomputes an automatic name from impact and component names,
-- unless a person named the incident.
local function rename(inc)
  if inc.name_locked then
    return
  end
  local names = {}
  for i, code in ipairs(inc.codes) do
    local n = inc.component_names[code]
    if not n or n == '' then
      n = code
    end
    names[i] = n
  end
  inc.name = (NAME_OF[inc.impact] or NAME_OF.none) .. ': ' .. table.concat(names, ', ')
end

-- sentence appends a sentence to a body that may be empty.
local function sentence(body, extra)
  if body == '' then
    return extra
  end
  return body .. ' ' .. extra
end

-- add_update appends one update (affected may be nil), keeping the first
-- update and the latest MAX_UPDATES-1.
local function add_update(inc, status, body, at, affected)
  inc.seq = (inc.seq or #inc.updates) + 1
  local u = {id = inc.id .. 'u' .. inc.seq, status = status, body = body, created_at = at}
  if affected then
    u.affected_components = {affected}
  end
  local ups = inc.updates
  ups[#ups + 1] = u
  while #ups > MAX_UPDATES do
    table.remove(ups, 2)
  end
  inc.updated_at = at
end
