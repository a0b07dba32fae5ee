-- quorum.lua: combine the vantages' verdicts on a component into the one
-- status the incident lifecycle sees (observe.lua runs it first).
--
-- With vantages, each vantage's owner of a component observes what its
-- vantage sees (A.status, A.body, A.detail). K.verdicts holds, by
-- component, every vantage's latest {s = status, b = body, d = detail}.
-- The component takes a status only when at least the quorum of the live
-- vantages that probe it (A.vantages) see it at least that bad: A.quorum,
-- capped at how many are live, or a majority of them when 0. A vantage
-- whose replicas are all gone (no live member) stops counting. A verdict
-- older than A.fresh ms (its owner observes again at least every resync)
-- counts as none: a vantage that comes back, or has not spoken yet,
-- counts as not failing until it does. What fewer see is the minority's:
-- it leaves the component operational, or, with A.regional == 'degraded',
-- makes it the least bad status.

-- COMBINED is the status the vantages' verdicts gave, once combined: the
-- observing replica learns it from the reply (reply).
local COMBINED = nil

-- reply is a script's reply, with COMBINED after it when there is one.
local function reply(t)
  if COMBINED then
    t[#t + 1] = COMBINED
  end
  return t
end

-- badness orders statuses: 0 for the healthy ones, then by impact.
local function badness(s)
  if not IMPACT_OF[s] then
    return 0
  end
  return IMPACT_RANK[IMPACT_OF[s]]
end

-- BAD_STATUSES are the bad statuses, worst first.
local BAD_STATUSES = {}
for s in pairs(IMPACT_OF) do
  BAD_STATUSES[#BAD_STATUSES + 1] = s
end
table.sort(BAD_STATUSES, function(a, b) return badness(a) > badness(b) end)

-- and_list joins names as "a", "a and b", "a, b and c".
local function and_list(names)
  if #names < 2 then
    return names[1] or ''
  end
  return table.concat(names, ', ', 1, #names - 1) .. ' and ' .. names[#names]
end

-- combine records this vantage's verdict and returns the combined status,
-- the update's body and the detail (what the verdict rests on: it changes
-- when a vantage joins or leaves the failing ones).
local function combine(comp, now)
  local raw = redis.call('HGET', K.verdicts, comp)
  local verdicts = raw and cjson.decode(raw) or {}
  if not verdicts[A.vantage] or verdicts[A.vantage].s ~= A.status then
    bump() -- the page shows what each vantage sees (load.lua)
  end
  verdicts[A.vantage] = {s = A.status, b = A.body or '', d = A.detail or '', t = now}
  redis.call('HSET', K.verdicts, comp, cjson.encode(verdicts))
  if HEALTHY[A.status] and not (A.status == 'operational') then
    -- under maintenance: the config's, the same from every vantage
    return A.status, A.body, A.detail or ''
  end

  local alive = live_vantages(now)
  local counted = {}
  for _, v in ipairs(A.vantages or {}) do
    if alive[v] then
      counted[#counted + 1] = v
    end
  end
  local n = #counted
  local q = tonumber(A.quorum) or 0
  if q <= 0 then
    q = math.floor(n / 2) + 1
  end
  q = math.max(1, math.min(q, n))

  -- heard: the fresh verdicts of the counted vantages.
  local heard = {}
  for _, v in ipairs(counted) do
    local vd = verdicts[v]
    if vd and (tonumber(vd.t) or 0) >= now - (tonumber(A.fresh) or 90000) then
      heard[v] = vd
    end
  end

  local status = 'operational'
  for _, s in ipairs(BAD_STATUSES) do
    local seen = 0
    for _, v in ipairs(counted) do
      if heard[v] and badness(heard[v].s) >= badness(s) then
        seen = seen + 1
      end
    end
    if n > 0 and seen >= q then
      status = s
      break
    end
  end

  local bad, fine = {}, {}
  for _, v in ipairs(counted) do
    if heard[v] and badness(heard[v].s) > 0 then
      bad[#bad + 1] = v
    else
      fine[#fine + 1] = v
    end
  end
  if status == 'operational' then
    if #bad == 0 or A.regional ~= 'degraded' then
      return 'operational', A.body, ''
    end
    status = BAD_STATUSES[#BAD_STATUSES]
  end

  local parts, detail = {}, {}
  local lead = 'Failing from ' .. and_list(bad)
  if #bad < q then
    lead = lead .. ' only'
  end
  parts[1] = lead .. '.'
  for _, v in ipairs(bad) do
    local b = verdicts[v].b
    if b ~= '' then
      parts[#parts + 1] = v .. ': ' .. b
    end
    detail[#detail + 1] = v .. '=' .. verdicts[v].s .. ' (' .. verdicts[v].d .. ')'
  end
  if #fine > 0 then
    parts[#parts + 1] = and_list(fine) .. (#fine == 1 and ' sees' or ' see') .. ' it operational.'
  end
  return status, table.concat(parts, ' '), table.concat(detail, '; ')
end

