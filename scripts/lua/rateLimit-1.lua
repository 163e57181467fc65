--[[
  Checks one request against one rate limit and counts it if allowed (GCRA, lib/gcra.lua).

  KEYS[1] limiter  string: TAT in microseconds since the epoch (see lib/gcra.lua)

  ARGV[1] now (ms epoch, the caller's clock)
  ARGV[2] interval: microseconds per request at the sustained rate (integer >= 1)
  ARGV[3] burst: requests allowed at once (integer >= 1)

  Returns {code, retryAfterMs}; code is mirrored in RateLimitResult (rate-limit.store.ts):
    {1, 0}  ALLOWED  counted (TAT moved one interval on)
    {2, n}  LIMITED  not counted; the next request fits in n ms
  Arguments that are not numbers or out of range answer an error (a caller bug must never
  switch the limit off).
]]
--!include lib/gcra.lua
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2]) or 0
local burst = tonumber(ARGV[3]) or 0
-- `not (x >= 1)` also refuses NaN, which tonumber accepts ("nan").
if now == nil or now ~= now or not (interval >= 1) or not (burst >= 1) then
  return redis.error_reply('ERR rateLimit: now, interval and burst must be numbers, interval and burst >= 1')
end
now = now * 1000

local nextTat, retryAfterMs = gcra_check(KEYS[1], now, interval, burst)
if nextTat == nil then
  return {2, retryAfterMs}
end
gcra_commit(KEYS[1], now, nextTat)
return {1, 0}
