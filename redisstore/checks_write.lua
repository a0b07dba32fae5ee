-- checks_write.lua: publish one writer pass of an owner's changed check
-- states, each on behalf of its component, and delete the states of checks
-- that left the config.
--
-- A: member (the owner's replica), grants ({component: token}), checks
--    ([{n = name, c = component, ps = true if a prober state follows}]),
--    remove ([name, ...]: checks that left the config).
-- ARGV[3..]: for each check in order, its state (JSON, opaque here), then
--    its prober state if ps.
--
-- With vantages, the writer's vantage's field of each check is written,
-- "<check>@<vantage>" (checkstate.Field), and removed.
--
-- Keys: K.checks, a hash of check -> state; K['checks:changed'], a sorted
-- set of check -> the sequence number of its last change (a removed
-- check's entry stays, as a tombstone, so readers of changes see it go);
-- K['checks:seq'], the last sequence number, one per script run that wrote;
-- K['checks:updated'], when that was (Redis' clock); K.probestate, a hash
-- of check -> prober state (read only by a new owner).
-- Returns {sequence number (0 if nothing was written), fenced components
-- ...}.

local err = schema_error()
if err then
  return err
end

local now = now_ms()
local seq = nil
local function next_seq()
  if not seq then
    seq = redis.call('INCR', K['checks:seq'])
    stamp(now)
    redis.call('SET', K['checks:updated'], now)
  end
  return seq
end

local vantage = vantage_of(A.member or '')
local function field(name)
  if vantage == '' then
    return name
  end
  return name .. '@' .. vantage
end

local may, fenced = {}, {}
local a = 3
for _, ch in ipairs(A.checks or {}) do
  local state = ARGV[a]
  a = a + 1
  local ps = nil
  if ch.ps then
    ps = ARGV[a]
    a = a + 1
  end
  if may[ch.c] == nil then
    may[ch.c] = owned(ch.c, {m = A.member, k = (A.grants or {})[ch.c]}, now)
    if not may[ch.c] then
      fenced[#fenced + 1] = ch.c
    end
  end
  if may[ch.c] then
    local f = field(ch.n)
    redis.call('HSET', K.checks, f, state)
    redis.call('ZADD', K['checks:changed'], next_seq(), f)
    if ps then
      redis.call('HSET', K.probestate, f, ps)
    end
  end
end

for _, name in ipairs(A.remove or {}) do
  local f = field(name)
  if redis.call('HDEL', K.checks, f) == 1 then
    redis.call('ZADD', K['checks:changed'], next_seq(), f)
  end
  redis.call('HDEL', K.probestate, f)
end

local out = {tostring(seq or 0)}
for _, c in ipairs(fenced) do
  out[#out + 1] = c
end
return out
