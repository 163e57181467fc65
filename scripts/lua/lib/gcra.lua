--[[
  GCRA (the generic cell rate algorithm): a token bucket kept as a single number, the
  "theoretical arrival time" (TAT) of the next request. A limit allows `burst` requests at once
  and then one per `interval`. Refused requests are not counted, so a client that keeps
  hammering still gets exactly the sustained rate through and no more.

  Included (`--!include lib/gcra.lua`) by every script that rate-limits, so the rule lives in one
  place. The limiter key is a string: TAT in microseconds since the epoch; absent = idle (full
  burst). It expires when the whole burst is available again: idle limiters cost nothing.

  gcra_check(key, nowUs, interval, burst, floor) -> nextTat or nil, retryAfterMs, fresh
    decides without writing: the TAT to store if the request is allowed, or nil and the ms
    until the next request fits. `floor` (optional) is a TAT the caller knows from elsewhere
    (see issueCoupon-5.lua); the state is the later of it and the key. `fresh` = the key was
    absent and no floor was given: the stored state would be exactly nowUs + interval.
  gcra_commit(key, nowUs, nextTat) counts an allowed request.
]]
-- Microseconds by which API instances' clocks may disagree.
local GCRA_MAX_SKEW = 60000000

local function gcra_check(key, now, interval, burst, floor)
  local horizon = burst * interval
  local stored = redis.call('GET', key)
  local tat = tonumber(stored)
  if floor ~= nil and (tat == nil or tat ~= tat or floor > tat) then
    tat = floor
  end
  local fresh = stored == false and floor == nil
  if tat == nil or tat ~= tat or tat < now or tat > now + horizon + GCRA_MAX_SKEW then
    -- Absent or in the past: idle, the whole burst is available. Not a number, or further ahead
    -- than any clock skew explains (a corrupt value, a clock that jumped): start over as idle.
    tat = now
  elseif tat > now + horizon then
    -- Ahead of anything this rule stores, by less than GCRA_MAX_SKEW: another API instance whose
    -- clock runs ahead wrote it while the bucket was full. Treat it as exactly full (refuse;
    -- never hand out a fresh burst because two clocks disagree). The key keeps the expiry its
    -- writer gave it.
    tat = now + horizon
  end
  local nextTat = tat + interval
  local allowedAt = nextTat - horizon
  if allowedAt > now then
    return nil, math.ceil((allowedAt - now) / 1000)
  end
  return nextTat, 0, fresh
end

local function gcra_commit(key, now, nextTat)
  -- '%.0f': tostring would print 1.7e+15 and lose the microseconds.
  redis.call('SET', key, string.format('%.0f', nextTat), 'PX', math.ceil((nextTat - now) / 1000) + 1)
end

--[[
  gcra_limit(interval, burst) reads one limit's arguments: the string 'off', or an interval
  (µs per request, >= 1) and a burst (>= 1). Returns false for 'off', the interval and burst as
  numbers when valid, or nil when malformed: the caller answers an error, because a caller bug
  must never switch a limit off (0, NaN and garbage are malformed, not off).
]]
local function gcra_limit(interval, burst)
  if interval == 'off' then
    return false
  end
  interval, burst = tonumber(interval), tonumber(burst)
  -- `not (x >= 1)` also refuses NaN, which tonumber accepts ("nan").
  if interval == nil or burst == nil or not (interval >= 1) or not (burst >= 1) then
    return nil
  end
  return interval, burst
end

--[[
  gcra_args(argv, first) reads a caller's limits as the scripts take them: argv[first] now (ms
  epoch), then the user limit and the address limit (interval and burst each, see gcra_limit).
  Returns nowUs and the two limits, or nil when anything is malformed.
]]
local function gcra_args(argv, first)
  local nowMs = tonumber(argv[first])
  local userInterval, userBurst = gcra_limit(argv[first + 1], argv[first + 2])
  local ipInterval, ipBurst = gcra_limit(argv[first + 3], argv[first + 4])
  if nowMs == nil or nowMs ~= nowMs or userInterval == nil or ipInterval == nil then
    return nil
  end
  return nowMs * 1000, userInterval, userBurst, ipInterval, ipBurst
end

--[[
  gcra_decide(nowUs, userKey, userInterval, userBurst, ipKey, ipInterval, ipBurst, userFloor)
  checks a caller's user limit and address limit together (an interval of false = that limit is
  off) without counting the call. Returns 0 and what to commit when both allow it: the user's
  and the address's next TAT (false when off) and whether the user's limiter was fresh
  (gcra_check); otherwise the wait in ms and which limit refused (1 user, 2 address; when both
  refuse, the one that frees up last).
]]
local function gcra_decide(nowUs, userKey, userInterval, userBurst, ipKey, ipInterval, ipBurst, userFloor)
  local userTat, userWait, userFresh, ipTat, ipWait = false, 0, false, false, 0
  if userInterval then
    userTat, userWait, userFresh = gcra_check(userKey, nowUs, userInterval, userBurst, userFloor)
  end
  if ipInterval then
    ipTat, ipWait = gcra_check(ipKey, nowUs, ipInterval, ipBurst)
  end
  -- nil = refused (false = off).
  if userTat == nil or ipTat == nil then
    if ipTat == nil and (userTat ~= nil or ipWait > userWait) then
      return ipWait, 2
    end
    return userWait, 1
  end
  return 0, nil, userTat, ipTat, userFresh
end

--[[
  gcra_both(...) is gcra_decide without a floor, then counts an allowed call in both limits: a
  refused call is counted by neither. Returns 0 when allowed, or the wait and which limit refused.
]]
local function gcra_both(nowUs, userKey, userInterval, userBurst, ipKey, ipInterval, ipBurst)
  local wait, limit, userTat, ipTat =
    gcra_decide(nowUs, userKey, userInterval, userBurst, ipKey, ipInterval, ipBurst)
  if wait ~= 0 then
    return wait, limit
  end
  if userTat then
    gcra_commit(userKey, nowUs, userTat)
  end
  if ipTat then
    gcra_commit(ipKey, nowUs, ipTat)
  end
  return 0
end

--[[
  gcra_caller(argv, first, userKey, ipKey) is what a script that rate-limits its caller runs
  first: it reads the caller's limits from argv (gcra_args, from argv[first]) and checks and
  counts them (gcra_both). Returns 0 when allowed, the wait in ms and which limit refused, or
  nil when the arguments are malformed (the script then answers an error).
]]
local function gcra_caller(argv, first, userKey, ipKey)
  local nowUs, userInterval, userBurst, ipInterval, ipBurst = gcra_args(argv, first)
  if nowUs == nil then
    return nil
  end
  return gcra_both(nowUs, userKey, userInterval, userBurst, ipKey, ipInterval, ipBurst)
end
