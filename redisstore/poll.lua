-- poll.lua: what a reader polls to know whether to read again, in one
-- round trip. Not read-only: it reads Redis' clock (TIME), which Redis
-- and miniredis refuse in a read-only script.
--
-- Returns {state version, checks sequence number, created (unix ms), now
-- (unix ms, Redis' clock)}; absent keys read as 0. It sets the creation
-- time if there is none (only that: the schema is stamped by writers).

local err = schema_error()
if err then
  return err
end

-- The creation time stands for times the state does not know; every
-- replica must read the same one, even before anything was written.
local now = now_ms()
redis.call('SET', K.created, now, 'NX')
return {
  redis.call('GET', K.version) or '0',
  redis.call('GET', K['checks:seq']) or '0',
  redis.call('GET', K.created) or '0',
  tostring(now),
}
