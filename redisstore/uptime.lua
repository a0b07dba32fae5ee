-- uptime.lua: adds one batch of uptime counters, at most once, each on
-- behalf of the component it belongs to.
--
-- KEYS after the fixed ones: the writer's sequence key
-- (P uptime:writer:<id>), then the month hashes the batch touches.
-- A: seq (the batch's number, increasing per writer), ttl (seconds the
--    sequence key lives), member (the writer's replica), grants
--    ({component: token}), hashes ([{c = component, x = EXPIREAT unix
--    seconds, f = {field, increment, ...}}], in KEYS order).
--
-- A batch whose number is not above the writer's last is a resend of one
-- that landed (its reply was lost): nothing is added again. A hash whose
-- component this writer does not own (its grant is stale) is dropped and
-- counted as fenced: a paused replica's time is not credited. A hash of the
-- wrong type (written by someone else) is skipped, not fatal: the rest of
-- the batch still lands exactly once. Returns {applied (0/1), skipped,
-- fenced, other}.
--
-- With vantages every vantage owns each component, and one of them
-- credits its uptime: the first live vantage, by name, whose owner of the
-- component is live (the lead). The others' hashes are dropped and
-- counted apart (a fourth value): that is no fault.
-- The lead credits a component's time to the status the vantages'
-- verdicts gave, as the store holds it now (components), whatever status
-- the batch names: the batch is one writer pass, and the lead's own view
-- may differ from the quorum's. The checks' results are its own view.

local first = #KEYS - #A.hashes
local seq_key = KEYS[first]
local last = tonumber(redis.call('GET', seq_key) or '0')
if A.seq <= last then
  return {0, 0, 0, 0}
end
redis.call('SET', seq_key, A.seq, 'EX', A.ttl)

local now = now_ms()
local vantage = vantage_of(A.member)
local alive = nil

-- lead is the vantage that credits comp's uptime.
local function lead(comp)
  alive = alive or live_vantages(now)
  local names = {}
  for v in pairs(alive) do
    names[#names + 1] = v
  end
  table.sort(names)
  for _, v in ipairs(names) do
    local cur = redis.call('HGET', K.owners, comp .. '@' .. v)
    local holder = cur and string.match(cur, '^(%S+) ')
    if holder and live(holder, now) then
      return v
    end
  end
  return nil
end

-- may is 'yes', 'fenced', or 'other' (another vantage credits comp).
local allowed = {}
local function may(comp)
  if allowed[comp] == nil then
    if not owned(comp, {m = A.member, k = A.grants[comp]}, now) then
      allowed[comp] = 'fenced'
    elseif vantage ~= '' and lead(comp) ~= vantage then
      allowed[comp] = 'other'
    else
      allowed[comp] = 'yes'
    end
  end
  return allowed[comp]
end

local skipped, fenced, other = 0, 0, 0
for i, h in ipairs(A.hashes) do
  local key = KEYS[first + i]
  local m = may(h.c)
  if m == 'fenced' then
    fenced = fenced + 1
  elseif m == 'other' then
    other = other + 1
  else
    local ok = true
    local combined = nil
    if vantage ~= '' and h.s then
      local raw = redis.call('HGET', K.components, h.c)
      combined = raw and cjson.decode(raw).s
    end
    for j = 1, #h.f, 2 do
      local field = h.f[j]
      if combined then
        field = string.gsub(field, ':.*$', ':' .. combined)
      end
      local r = redis.pcall('HINCRBY', key, field, h.f[j + 1])
      if type(r) == 'table' and r.err then
        ok = false
        skipped = skipped + 1
        break
      end
    end
    if ok then
      redis.call('EXPIREAT', key, h.x)
    end
  end
end
return {1, skipped, fenced, other}
