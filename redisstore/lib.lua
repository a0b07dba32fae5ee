-- lib.lua: what every script shares. The Go side puts a generated header
-- before it (store.go, luaHeader) and the script's own text after it, so
-- each script stays one EVALSHA.
--
-- The header defines P, the prefix of every key ("<prefix>{st}:"); A, the
-- script's named arguments (one JSON object, ARGV[2]); K, the fixed keys by
-- name (KEYS[1..]); and, generated from the Go definitions, SCHEMA,
-- SCHEMA_COMPATIBLE, MAX_UPDATES, FENCED, IMPACT_OF, HEALTHY and IMPACT_RANK.
-- Keys per incident, check or month are P .. '<kind>:<id>', all carrying
-- the {st} hash tag, so one Cluster slot holds everything.
--
-- Portability: the same text runs on Redis (Lua 5.1, cjson) and on miniredis
-- (gopher-lua, encoding/json). cjson encodes an empty table as {} and
-- miniredis as [], so no script ever stores an empty table. Times are integer
-- unix milliseconds, exact in a Lua double. Fencing tokens travel as strings.

local INCIDENT_PREFIX = P .. 'incident:'

-- now_ms is Redis' clock: the one clock every replica shares. Leases and
-- fences are judged by it alone, never by a replica's own clock.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- schema_error returns an error reply if the data was written by a schema
-- this one cannot read, so a mixed-version rollout fails instead of
-- corrupting it.
local function schema_error()
  local have = redis.call('GET', K.schema)
  if have and not SCHEMA_COMPATIBLE[have] then
    return redis.error_reply('tocsin schema mismatch: have ' .. have .. ' want ' .. SCHEMA)
  end
  return nil
end

-- stamp marks the keyspace as this schema's and records when it was
-- created: the instant stands for times the state does not know, and a
-- change of it tells the replicas that Redis lost its data.
local function stamp(now)
  redis.call('SET', K.schema, SCHEMA)
  redis.call('SET', K.created, now, 'NX')
end

-- bump marks a change of what the status API shows: the version readers
-- poll, and when it changed.
local function bump()
  local now = now_ms()
  stamp(now)
  redis.call('INCR', K.version)
  redis.call('SET', K.updated, now)
end

-- live reports whether member holds a membership lease that has not
-- expired by Redis' clock.
local function live(member, now)
  local exp = redis.call('ZSCORE', K.members, member)
  return exp and tonumber(exp) > now
end

-- vantage_of is the vantage a member probes from: the part of its id
-- before '/' ('' for a replica without a vantage).
local function vantage_of(member)
  return string.match(member, '^([^/]+)/') or ''
end

-- owner_field is the field of K.owners that holds comp's grant for member.
-- Each vantage owns each component on its own, so with vantages a
-- component has one grant per vantage, "<comp>@<vantage>"; a
-- pseudo-component (its id holds a colon, as a receiver's delivery,
-- "notify:<receiver>", does) has one grant in the whole fleet
-- (ownership/vantage.go).
local function owner_field(comp, member)
  local v = vantage_of(member)
  if v == '' or string.find(comp, ':', 1, true) then
    return comp
  end
  return comp .. '@' .. v
end

-- owned reports whether fence f ({m = member, k = token}) is comp's current
-- ownership grant, held by a live member. Every write on behalf of a
-- component checks it before writing anything.
local function owned(comp, f, now)
  if type(f) ~= 'table' or type(f.m) ~= 'string' or type(f.k) ~= 'string' then
    return false
  end
  return redis.call('HGET', K.owners, owner_field(comp, f.m)) == f.m .. ' ' .. f.k and live(f.m, now)
end

-- live_vantages is the set of vantages with a live member.
local function live_vantages(now)
  local out = {}
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', K.members, '(' .. now, '+inf')) do
    out[vantage_of(m)] = true
  end
  return out
end

local NAME_OF = {none = 'Incident', minor = 'Degraded performance', major = 'Partial outage',
  critical = 'Major outage'}

-- PREV holds, by incident id, the impact, status and components of each
-- incident as this script loaded it: what an event changed.
local PREV = {}

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
  local codes = {}
  for i, c in ipairs(inc.codes) do
    codes[i] = c
  end
  PREV[inc.id] = {impact = inc.impact, status = inc.status, codes = codes}
  return inc
end

-- by_hand reports whether a person opened inc or moved it (human.lua):
-- then only a person changes its status or resolves it.
local function by_hand(inc)
  return inc.hand == true or inc.auto == false
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

-- Notifications (docs/notifications.md). A.receivers lists every receiver's filter, from
-- the config of the replica that runs the script: {n = name, i = least
-- impact rank, c = components (absent: all), k = {kind = true}, ic = true if
-- any change of impact counts}. An event is appended to the outbox stream
-- (K.outbox, field e: the event, field to: the receivers' names) in the
-- same script as the change it reports, or not at all: a fenced write
-- appends nothing. P notify:last:<receiver> holds, by incident, when the
-- receiver was last sent something about it, for reminders.

local function wanted_by(r, kind, inc, impact_changed)
  if (IMPACT_RANK[inc.impact] or 0) < (r.i or 0) then
    return false
  end
  if type(r.c) == 'table' then
    local any = false
    for _, c in ipairs(r.c) do
      if inc.components[c] then
        any = true
        break
      end
    end
    if not any then
      return false
    end
  end
  return (type(r.k) == 'table' and r.k[kind]) or (r.ic and impact_changed) or false
end

-- event_of is an incident event as the outbox carries it: the incident
-- without its timeline, the update it is about, and the incident as it
-- was before (prev), if it existed.
local function event_of(kind, inc, u, now)
  local ev = {
    v = 1, kind = kind, at = now,
    incident = {
      id = inc.id, name = inc.name, status = inc.status, impact = inc.impact, auto = inc.auto,
      created_at = inc.created_at, started_at = inc.started_at, monitoring_at = inc.monitoring_at,
      resolved_at = inc.resolved_at, components = inc.components, names = inc.component_names,
      codes = inc.codes,
    },
    prev = PREV[inc.id],
  }
  if u then
    ev.update = {id = u.id, status = u.status, body = u.body, created_at = u.created_at,
      affected = u.affected_components, human = u.human}
  end
  return ev
end

-- append queues an event for the receivers in to (non-empty).
local function append(ev, to, incident_id)
  redis.call('XADD', K.outbox, '*', 'e', cjson.encode(ev), 'to', table.concat(to, ' '))
  if not incident_id then
    return
  end
  for _, n in ipairs(to) do
    if ev.kind == 'resolved' then
      redis.call('HDEL', P .. 'notify:last:' .. n, incident_id)
    else
      redis.call('HSET', P .. 'notify:last:' .. n, incident_id, ev.at)
    end
  end
end

-- notify queues an incident event about inc (about its latest update,
-- unless with_update is false) for every receiver that wants it, and marks that update
-- deliver_notifications (dn) when it was queued for one at least. Call it
-- before saving inc.
local function notify(kind, inc, with_update)
  local u = nil
  if with_update ~= false then
    u = inc.updates[#inc.updates]
  end
  local prev = PREV[inc.id]
  local impact_changed = prev ~= nil and prev.impact ~= inc.impact
  local to = {}
  for _, r in ipairs(A.receivers or {}) do
    if wanted_by(r, kind, inc, impact_changed) then
      to[#to + 1] = r.n
    end
  end
  if #to == 0 then
    return
  end
  if u then
    u.dn = true
  end
  append(event_of(kind, inc, u, now_ms()), to, inc.id)
end
