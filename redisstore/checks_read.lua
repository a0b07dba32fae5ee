-- checks_read.lua: the published check states that changed after a
-- reader's sequence number, a bounded number at a time. Run with
-- EVALSHA_RO.
--
-- A: since (the reader's last sequence number; 0 = everything), max (how
--    many states at most, besides the rest of the last batch).
-- Returns {last sequence number read, more (0/1), reset (0/1), updated
-- (unix ms), then name, state ('' if deleted) pairs}. reset is 1 when since
-- is ahead of the store (Redis lost its data): everything is read afresh.

local err = schema_error()
if err then
  return err
end

local seq = tonumber(redis.call('GET', K['checks:seq']) or '0')
local updated = redis.call('GET', K['checks:updated']) or '0'
local since, reset = A.since, 0
if since > seq then
  since, reset = 0, 1
end

local picked = redis.call('ZRANGEBYSCORE', K['checks:changed'], '(' .. since, '+inf', 'WITHSCORES',
  'LIMIT', 0, A.max)
local names, last = {}, since
for i = 1, #picked, 2 do
  names[#names + 1] = picked[i]
  last = tonumber(picked[i + 1])
end
local more = 0
if #names == A.max then
  -- Never split one batch: readers continue after the last score read.
  local rest = redis.call('ZRANGEBYSCORE', K['checks:changed'], last, last)
  local have = {}
  for _, n in ipairs(names) do
    have[n] = true
  end
  for _, n in ipairs(rest) do
    if not have[n] then
      names[#names + 1] = n
    end
  end
  if last < seq then
    more = 1
  end
end

local out = {tostring(last), tostring(more), tostring(reset), updated}
for i = 1, #names, 1000 do
  local chunk = {}
  for j = i, math.min(i + 999, #names) do
    chunk[#chunk + 1] = names[j]
  end
  local vals = redis.call('HMGET', K.checks, unpack(chunk))
  for j, n in ipairs(chunk) do
    out[#out + 1] = n
    out[#out + 1] = vals[j] or ''
  end
end
return out
