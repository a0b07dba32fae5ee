-- beat.lua records one heartbeat event atomically.
--
-- KEYS after the fixed ones: P hb:<check>, a hash of unix-millisecond times.
-- A: field (the event: success | fail | start), at (its time, unix ms).
--
-- first_seen is set if absent. The event's field only moves forward, so a
-- beat delayed in flight (or taken by a replica whose clock lags) never
-- hides a later one. Returns 1 if the field changed, 0 if not.
local key = KEYS[#KEYS]
redis.call('HSETNX', key, 'first_seen', A.at)
local cur = redis.call('HGET', key, A.field)
if cur and tonumber(cur) and tonumber(cur) >= A.at then
  return 0
end
redis.call('HSET', key, A.field, A.at)
return 1
