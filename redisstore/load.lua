-- load.lua: one consistent, read-only snapshot of everything the status API
-- shows, as one JSON document. Run with EVALSHA_RO.
--
-- A: limit, how many recent incidents to return besides the open ones
-- (0 = open only); fresh (ms), how long a vantage's verdict counts.
-- Returns {"version":N,"updated":ms,"created":ms,
-- "components":{id:{"s":..,"t":..}},"incidents":[...],"vantages":{id:
-- {"n": live vantages with a fresh verdict (younger than A.fresh ms),
-- "f": those of them that see it failing, space-separated}}}
-- (quorum.lua), "live": the vantages with a live member, space-separated
-- (left out where TIME cannot be read): updated is when
-- the state last changed and created when the keyspace was, both by
-- Redis' clock (0 if never);
-- the stored JSON is spliced in as it is, not decoded and encoded again.

local err = schema_error()
if err then
  return err
end

local limit = A.limit

local components = {}
local flat = redis.call('HGETALL', K.components)
for i = 1, #flat, 2 do
  components[#components + 1] = cjson.encode(flat[i]) .. ':' .. flat[i + 1]
end

local ids = redis.call('ZREVRANGE', K.open, 0, -1)
if limit > 0 then
  for _, id in ipairs(redis.call('ZREVRANGE', K.incidents, 0, limit - 1)) do
    ids[#ids + 1] = id
  end
end
local seen, incidents = {}, {}
for _, id in ipairs(ids) do
  if not seen[id] then
    seen[id] = true
    local raw = redis.call('GET', INCIDENT_PREFIX .. id)
    if raw then
      incidents[#incidents + 1] = raw
    end
  end
end

-- What each live vantage sees of each component, with vantages: the page
-- names a minority that sees a failure, and how many vantages a verdict
-- rests on.
-- miniredis (the embedded store, one process: no vantages to tell apart)
-- refuses TIME in a read-only script: every vantage counts there, and
-- "live" is left out.
local t = redis.pcall('TIME')
local alive, now, live = nil, nil, ''
if type(t) == 'table' and t[1] then
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  alive = live_vantages(now)
  local names = {}
  for v in pairs(alive) do
    if v ~= '' then
      names[#names + 1] = v
    end
  end
  table.sort(names)
  live = ',"live":' .. cjson.encode(table.concat(names, ' '))
end
local vantages = {}
local vflat = redis.call('HGETALL', K.verdicts)
if #vflat > 0 then
  for i = 1, #vflat, 2 do
    local failing, n = {}, 0
    for v, vd in pairs(cjson.decode(vflat[i + 1])) do
      local fresh = not now or (tonumber(vd.t) or 0) >= now - A.fresh
      if (not alive or alive[v]) and fresh then
        n = n + 1
        if IMPACT_OF[vd.s] then
          failing[#failing + 1] = v
        end
      end
    end
    table.sort(failing)
    vantages[#vantages + 1] = cjson.encode(vflat[i]) .. ':{"n":' .. n .. ',"f":' ..
      cjson.encode(table.concat(failing, ' ')) .. '}'
  end
end

return '{"version":' .. (redis.call('GET', K.version) or '0') ..
  ',"updated":' .. (redis.call('GET', K.updated) or '0') ..
  ',"created":' .. (redis.call('GET', K.created) or '0') ..
  ',"components":{' .. table.concat(components, ',') ..
  '},"incidents":[' .. table.concat(incidents, ',') ..
  '],"vantages":{' .. table.concat(vantages, ',') .. '}' .. live .. '}'
