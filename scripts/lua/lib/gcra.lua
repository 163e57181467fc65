--[[
  GCRA (the generic cell rate algorithm): a token bucket kept as a single number, the
  "theoretical arrival time" (TAT) of the next request. A limit allows `burst` requests at once
  and then one per `interval`. Refused requests are not counted, so a client that keeps
  hammering still gets exactly the sustained rate through and no more.

  Included (`--!include lib/gcra.lua`) by every script that rate-limits, so the rule lives in one
  place. The limiter key is a string: TAT in microseconds since the epoch; absent = idle (full
  burst). It expires when the whole burst is available again: idle limiters cost nothing.

  gcra_check(key, nowUs, interval, burst) -> nextTat or nil, retryAfterMs
    decides without writing: the TAT to store if the request is allowed, or nil and the ms
    until the next request fits.
  gcra_commit(key, nowUs, nextTat) counts an allowed request.
]]
-- Microseconds by which API instances' clocks may disagree.
local GCRA_MAX_SKEW = 60000000

local function gcra_check(key, now, interval, burst)
  local horizon = burst * interval
  local tat = tonumber(redis.call('GET', key))
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
  return nextTat, 0
end

local function gcra_commit(key, now, nextTat)
  -- '%.0f': tostring would print 1.7e+15 and lose the microseconds.
  redis.call('SET', key, string.format('%.0f', nextTat), 'PX', math.ceil((nextTat - now) / 1000) + 1)
end
