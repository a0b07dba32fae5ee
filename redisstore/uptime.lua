-- write.lua: adds one batch of uptime counters, at most once.
--
-- KEYS[1]   the writer's sequence key (<prefix>{st}:uptime:writer:<id>)
-- KEYS[2..] the month hashes the batch touches
-- ARGV[1]   the batch's sequence number (increasing per writer)
-- ARGV[2]   seconds the sequence key lives
-- then, for each hash in KEYS order: its EXPIREAT (unix seconds), the
-- number of fields n, and n pairs of field, increment.
--
-- A batch whose number is not above the writer's last is a resend of one
-- that landed (its reply was lost): nothing is added again. A hash of the
-- wrong type (written by someone else) is skipped, not fatal: the rest of
-- the batch still lands exactly once. Returns {applied (0/1), skipped}.

local seq = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if seq <= last then
  return {0, 0}
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
local skipped = 0
local a = 3
for k = 2, #KEYS do
  local expire_at, n = ARGV[a], tonumber(ARGV[a + 1])
  a = a + 2
  local ok = true
  for _ = 1, n do
    if ok then
      local r = redis.pcall('HINCRBY', KEYS[k], ARGV[a], ARGV[a + 1])
      if type(r) == 'table' and r.err then
        ok = false
        skipped = skipped + 1
      end
    end
    a = a + 2
  end
  if ok then
    redis.call('EXPIREAT', KEYS[k], expire_at)
  end
end
return {1, skipped}
