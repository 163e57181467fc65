--[[
  Checks one call against its caller's user limit and address limit for one procedure, and
  counts it in both only when both allow it (GCRA, lib/gcra.lua). Both keys carry the
  procedure's hash tag ({rl:<procedure>}), so one round trip decides both.

  KEYS[1] the caller's user limiter     string: TAT in µs since the epoch (lib/gcra.lua)
  KEYS[2] the caller's address limiter

  ARGV[1] now (ms epoch, the caller's clock)
  ARGV[2], ARGV[3] user limit: interval (µs per request, >= 1) and burst (>= 1), or 'off'
  ARGV[4], ARGV[5] address limit, the same way

  Returns (codes of lib/reply.lua):
    OK                                   counted by both limits
    {RATE_LIMITED, retryAfterMs, which}  counted by neither; the next call fits in retryAfterMs;
                                         which = 1 the user limit, 2 the address limit
  Malformed arguments answer an error (a caller bug must never switch a limit off).
]]
--!include lib/reply.lua
--!include lib/gcra.lua
local wait, limit = gcra_caller(ARGV, 1, KEYS[1], KEYS[2])
if wait == nil then
  return redis.error_reply("ERR rateLimit: now must be a number; each limit 'off' or interval and burst >= 1")
end
if wait == 0 then
  return OK
end
return {RATE_LIMITED, wait, limit}
