--[[
  Checks one request against one rate limit and counts it if allowed: GCRA (the generic cell
  rate algorithm), i.e. a token bucket kept as a single number, the "theoretical arrival time"
  (TAT) of the next request. A limit allows `burst` requests at once and then one per
  `interval`. Refused requests are not counted, so a client that keeps hammering still gets
  exactly the sustained rate through and no more.

  KEYS[1] limiter  string: TAT in microseconds since the epoch; absent = idle (full burst).
                   Expires when the whole burst is available again: idle limiters cost nothing.

  ARGV[1] now (ms epoch, the caller's clock)
  ARGV[2] interval: microseconds per request at the sustained rate (integer >= 1)
  ARGV[3] burst: requests allowed at once (integer >= 1)

  Returns {code, retryAfterMs}; code is mirrored in RateLimitResult (rate-limit.store.ts):
    {1, 0}  ALLOWED  counted (TAT moved one interval on)
    {2, n}  LIMITED  not counted; the next request fits in n ms
  Arguments that are not numbers or out of range answer an error (a caller bug must never
  switch the limit off).
]]
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2]) or 0
local burst = tonumber(ARGV[3]) or 0
-- `not (x >= 1)` also refuses NaN, which tonumber accepts ("nan").
if now == nil or now ~= now or not (interval >= 1) or not (burst >= 1) then
  return redis.error_reply('ERR rateLimit: now, interval and burst must be numbers, interval and burst >= 1')
end
now = now * 1000
local horizon = burst * interval
-- Microseconds by which API instances' clocks may disagree.
local MAX_SKEW = 60000000

local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat ~= tat or tat < now or tat > now + horizon + MAX_SKEW then
  -- Absent or in the past: idle, the whole burst is available. Not a number, or further ahead
  -- than any clock skew explains (a corrupt value, a clock that jumped): start over as idle.
  tat = now
elseif tat > now + horizon then
  -- Ahead of anything this script stores, by less than MAX_SKEW: another API instance whose
  -- clock runs ahead wrote it while the bucket was full. Treat it as exactly full (refuse;
  -- never hand out a fresh burst because two clocks disagree). The key keeps the expiry its
  -- writer gave it.
  tat = now + horizon
end

local nextTat = tat + interval
local allowedAt = nextTat - horizon
if allowedAt > now then
  return {2, math.ceil((allowedAt - now) / 1000)}
end
-- '%.0f': tostring would print 1.7e+15 and lose the microseconds.
redis.call('SET', KEYS[1], string.format('%.0f', nextTat), 'PX', math.ceil((nextTat - now) / 1000) + 1)
return {1, 0}
