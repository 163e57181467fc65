--[[
  Issues one coupon to one user. This is the single atomic decision of the coupon engine:
  the window, one-per-user and quantity checks, the issuance itself and the record of what
  must still be persisted to Postgres all happen in this one step, so an "ISSUED" answer can
  never exist without its `pending` entry (an API killed right after this script loses nothing).

  KEYS[1] meta     hash: total, startsAt, endsAt (ms epoch, 0 = unbounded), validDays
  KEYS[2] issued   hash: userId -> issuedAt (ms epoch), plus the field "_" that marks it loaded
  KEYS[3] pending  stream of issuances not yet in Postgres, entries { u = userId, t = issuedAt }
  KEYS[4] the caller's user limiter for this coupon (lib/gcra.lua)
  KEYS[5] the caller's address limiter for this coupon

  ARGV[1] userId (positive integer)
  ARGV[2] now (ms epoch): the issue time checked against the window and recorded
  ARGV[3], ARGV[4] user limit: interval (µs per request, >= 1) and burst (>= 1), or 'off'
  ARGV[5], ARGV[6] address limit, the same way
  ARGV[7] optional: 'id' makes OK carry the id of the `pending` entry, for the caller that
          may have to take the issuance back (a replica did not acknowledge it in time:
          revokeIssuance-2.lua); absent, OK stays the bare integer

  The rate limits are checked first, in this same step, because their keys share the coupon's
  hash tag: the flash crowd's call costs one round trip, limits included. A limited call is
  counted by neither limiter and decides nothing; any other call is counted by both, whatever
  the issue decision (a refused call is still a call).

  An issuance also records its call for the user limit: `issued` holds the call's time, and
  after a call the user's TAT is at least that time + interval. So the user limiter reads that
  as a floor, and the call that issues to a user whose limiter key is absent (the flash crowd's
  usual call) writes no limiter key: its state, exactly issuedAt + interval, is already stored.
  That saves a key created and expired per issuance (`node loadtests/bench/limiter-cost.ts`).
  A holder issued without limits (restores, tools) counts as one call at issuedAt.

  Returns (codes of lib/reply.lua):
    OK              issued: recorded in `issued` and appended to `pending`
                    ({OK, pendingId} when ARGV[7] is 'id')
    NOT_LOADED      meta or the "_" marker of `issued` is missing: Redis lost this coupon,
                    fail closed until it is restored from Postgres
    NOT_ACTIVE      now < startsAt, or now >= endsAt
    ALREADY_ISSUED  this user already holds the coupon
    SOLD_OUT        `total` coupons have been issued
    {RATE_LIMITED, retryAfterMs, which}  the call is over the user (1) or address (2) limit
  Every code but RATE_LIMITED is the bare integer: the flash crowd's reply builds no array.
]]
--!include lib/reply.lua
--!include lib/gcra.lua
local nowUs, userInterval, userBurst, ipInterval, ipBurst = gcra_args(ARGV, 2)
if nowUs == nil then
  return redis.error_reply("ERR issueCoupon: now must be a number; each limit 'off' or interval and burst >= 1")
end
local user = ARGV[1]
local held = redis.call('HMGET', KEYS[2], '_', user)
-- A holder's issuance time (gcra_check treats a floor that is not a number as absent).
local userFloor = nil
if userInterval and held[2] then
  userFloor = tonumber(held[2])
  if userFloor ~= nil then
    userFloor = userFloor * 1000 + userInterval
  end
end
local wait, limit, userTat, ipTat, userFresh =
  gcra_decide(nowUs, KEYS[4], userInterval, userBurst, KEYS[5], ipInterval, ipBurst, userFloor)
if wait ~= 0 then
  return {RATE_LIMITED, wait, limit}
end
if ipTat then
  gcra_commit(KEYS[5], nowUs, ipTat)
end

local pendingId = nil
local function decide()
  local meta = redis.call('HMGET', KEYS[1], 'total', 'startsAt', 'endsAt')
  local total = tonumber(meta[1])
  local startsAt = tonumber(meta[2])
  local endsAt = tonumber(meta[3])
  -- HMGET answers false for a missing field, which tonumber turns into nil.
  if total == nil or startsAt == nil or endsAt == nil then
    return NOT_LOADED
  end
  if held[1] == false then
    return NOT_LOADED
  end

  local now = tonumber(ARGV[2])
  if startsAt > 0 and now < startsAt then
    return NOT_ACTIVE
  end
  if endsAt > 0 and now >= endsAt then
    return NOT_ACTIVE
  end
  if held[2] ~= false then
    return ALREADY_ISSUED
  end
  -- The "_" marker is one field of the hash, so HLEN - 1 coupons have been issued.
  if redis.call('HLEN', KEYS[2]) - 1 >= total then
    return SOLD_OUT
  end

  redis.call('HSET', KEYS[2], user, ARGV[2])
  pendingId = redis.call('XADD', KEYS[3], '*', 'u', user, 't', ARGV[2])
  return OK
end

local result = decide()
if userTat and not (result == OK and userFresh) then
  gcra_commit(KEYS[4], nowUs, userTat)
end
if result == OK and ARGV[7] == 'id' then
  return {OK, pendingId}
end
return result
