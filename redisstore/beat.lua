-- beat.lua records one heartbeat event atomically.
--
-- KEYS after the fixed ones: P hb:<check>, a hash of unix-millisecond times.
-- A: field (the event: success | fail | start | log), at (its time, unix
-- ms), and for log the message, kept as log_message with the latest log.
--
-- first_seen is set if absent, but by a log. The event's field only moves
-- forward, so a beat delayed in flight (or taken by a replica whose clock
-- lags) never hides a later one. Returns 1 if the field changed, 0 if not.
local key = KEYS[#KEYS]
local log = A.field == 'log'
-- A log changes no state: it does not start the "never beat" clock.
if not log then
  redis.call('HSETNX', key, 'first_seen', A.at)
end
local cur = redis.call('HGET', key, A.field)
-- A log of the same millisecond as the stored one is the later: the
-- handler took it after.
if cur and tonumber(cur) and (tonumber(cur) > A.at or (not log and tonumber(cur) == A.at)) then
  return 0
end
redis.call('HSET', key, A.field, A.at)
if A.message then
  redis.call('HSET', key, 'log_message', A.message)
end
return 1
