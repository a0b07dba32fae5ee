-- load.lua: one consistent, read-only snapshot of everything the status API
-- shows, as one JSON document. Run with EVALSHA_RO.
--
-- A: limit, how many recent incidents to return besides the open ones
-- (0 = open only).
-- Returns {"version":N,"updated":ms,"created":ms,
-- "components":{id:{"s":..,"t":..}},"incidents":[...]}: updated is when
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

return '{"version":' .. (redis.call('GET', K.version) or '0') ..
  ',"updated":' .. (redis.call('GET', K.updated) or '0') ..
  ',"created":' .. (redis.call('GET', K.created) or '0') ..
  ',"components":{' .. table.concat(components, ',') ..
  '},"incidents":[' .. table.concat(incidents, ',') .. ']}'
