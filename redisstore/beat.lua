-- beat.lua records one heartbeat event atomically.
--
-- KEYS[1]  <prefix>{hb}:<check>, a hash of unix-millisecond times
-- ARGV[1]  the field of the event: success | fail | start
-- ARGV[2]  the time of the event, unix ms
--
-- first_seen is set if absent. The event's field only moves forward, so a
-- beat delayed in flight (or taken by a replica whose clock lags) never
-- hides a later one. Returns 1 if the field changed, 0 if not.
local at = tonumber(ARGV[2])
redis.call('HSETNX', KEYS[1], 'first_seen', ARGV[2])
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and tonumber(cur) and tonumber(cur) >= at then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
