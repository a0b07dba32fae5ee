-- lease.lua: one round of a replica's membership lease and ownership
-- claims, judged by Redis' clock alone.
--
-- A: member (the replica's id, no spaces), ttl (ms), epoch (the membership
--    epoch the claims were computed for), claim ([component, ...]: take
--    these), release ([component, ...]: give these up), leave (true: give
--    up the lease and the components in release).
--
-- Keys: K.members, a sorted set of member -> lease expiry (unix ms);
-- K.epoch, a hash {n = membership epoch, at = when it last changed}, where
-- the epoch changes whenever the set of live members does (a join, a
-- leave, an expiry); K.owners, a hash of component -> "<member> <token>"
-- (one field per vantage with vantages: lib.lua, owner_field);
-- K.fence, the counter tokens come from, so a later grant always has a
-- larger token. The counter starts at Redis' clock in milliseconds times
-- 1000, so that a Redis that lost its data (a restart without persistence,
-- a failover to a replica that had not caught up) never hands out again a
-- token it issued before, unless it issued more than 1000 grants per
-- millisecond of its life. Tokens stay below 2^53 until the 23rd century,
-- and are formatted with %d: Lua's tostring keeps only 14 digits.
--
-- A.primary is the replication ID of the primary the round runs on, as
-- INFO replication gave it ('' when unknown). K.primary holds the one the
-- last round saw: another one means a failover or a restart, which may
-- have lost the last writes, the fence counter's among them. The counter
-- is then raised to Redis' clock times 1000, above every token issued
-- before (fewer than 1000 grants per millisecond), so no token is issued
-- twice (replication.go).
--
-- Claims are taken only if A.epoch is the current epoch: the replica
-- computed them (rendezvous hashing over the live members) from the member
-- set that is still live, so two replicas never claim one component at the
-- same epoch. A claim of a component another member holds takes it: the
-- holder's writes are rejected from then on (fenced), whatever it believes.
-- A claim of a component the member already holds keeps its token.
--
-- Returns {epoch, epoch changed at, now, created, lease expiry, number of
-- members, member..., then for each claim: component, token, previous
-- holder ('' if none), previous token ('' if none)}.

local err = schema_error()
if err then
  return err
end

local now = now_ms()
stamp(now)

-- bump_epoch marks a change of the membership. A new keyspace's epochs
-- start at Redis' clock, so an epoch seen before Redis lost its data is
-- never current again.
local function bump_epoch()
  if redis.call('HEXISTS', K.epoch, 'n') == 0 then
    redis.call('HSET', K.epoch, 'n', now)
  end
  redis.call('HINCRBY', K.epoch, 'n', 1)
  redis.call('HSET', K.epoch, 'at', now)
end

local function release(comp)
  local field = owner_field(comp, A.member)
  local cur = redis.call('HGET', K.owners, field)
  if cur and string.match(cur, '^(%S+) ') == A.member then
    redis.call('HDEL', K.owners, field)
  end
end

-- Expired members are gone: their grants stay in K.owners but fail the
-- fence, and their components are claimed afresh.
if redis.call('ZREMRANGEBYSCORE', K.members, '-inf', now) > 0 then
  bump_epoch()
end

if A.primary and A.primary ~= '' then
  local had = redis.call('GET', K.primary)
  if had ~= A.primary then
    local floor = now * 1000
    if had and tonumber(redis.call('GET', K.fence) or '0') < floor then
      redis.call('SET', K.fence, string.format('%d', floor))
    end
    redis.call('SET', K.primary, A.primary)
  end
end

local granted = {}
if A.leave then
  for _, comp in ipairs(A.release or {}) do
    release(comp)
  end
  if redis.call('ZREM', K.members, A.member) == 1 then
    bump_epoch()
  end
else
  if not redis.call('ZSCORE', K.members, A.member) then
    bump_epoch()
  end
  redis.call('ZADD', K.members, now + A.ttl, A.member)
  if tostring(A.epoch) == (redis.call('HGET', K.epoch, 'n') or '0') then
    for _, comp in ipairs(A.claim or {}) do
      local field = owner_field(comp, A.member)
      local cur = redis.call('HGET', K.owners, field)
      local prev, prev_k = '', ''
      if cur then
        prev, prev_k = string.match(cur, '^(%S+) (%S+)$')
      end
      local k = prev_k
      if prev ~= A.member then
        if redis.call('EXISTS', K.fence) == 0 then
          redis.call('SET', K.fence, string.format('%d', now * 1000))
        end
        k = string.format('%d', redis.call('INCR', K.fence))
        redis.call('HSET', K.owners, field, A.member .. ' ' .. k)
      end
      granted[#granted + 1] = comp
      granted[#granted + 1] = k
      granted[#granted + 1] = prev or ''
      granted[#granted + 1] = prev_k or ''
    end
    for _, comp in ipairs(A.release or {}) do
      release(comp)
    end
  end
end

local members = redis.call('ZRANGE', K.members, 0, -1)
local out = {
  redis.call('HGET', K.epoch, 'n') or '0',
  redis.call('HGET', K.epoch, 'at') or '0',
  tostring(now),
  redis.call('GET', K.created) or '0',
  tostring(redis.call('ZSCORE', K.members, A.member) or '0'),
  tostring(#members),
}
for _, m in ipairs(members) do
  out[#out + 1] = m
end
for _, g in ipairs(granted) do
  out[#out + 1] = g
end
return out
