--[[
  Issues one coupon to one user. This is the single atomic decision of the coupon engine:
  the window, one-per-user and quantity checks, the issuance itself and the record of what
  must still be persisted to Postgres all happen in this one step, so an "ISSUED" answer can
  never exist without its `pending` entry (an API killed right after this script loses nothing).

  KEYS[1] meta     hash: total, startsAt, endsAt (ms epoch, 0 = unbounded), validDays
  KEYS[2] issued   hash: userId -> issuedAt (ms epoch), plus the field "_" that marks it loaded
  KEYS[3] pending  stream of issuances not yet in Postgres, entries { u = userId, t = issuedAt }

  ARGV[1] userId (positive integer)
  ARGV[2] now (ms epoch): the issue time checked against the window and recorded

  Returns one integer (mirrored in IssueCouponResult, coupon.store.ts):
    1 ISSUED          recorded in `issued` and appended to `pending`
    2 NOT_LOADED      meta or the "_" marker of `issued` is missing: Redis lost this coupon,
                      fail closed until it is restored from Postgres
    3 NOT_ACTIVE      now < startsAt, or now >= endsAt
    4 ALREADY_ISSUED  this user already holds the coupon
    5 SOLD_OUT        `total` coupons have been issued
]]
local meta = redis.call('HMGET', KEYS[1], 'total', 'startsAt', 'endsAt')
local total = tonumber(meta[1])
local startsAt = tonumber(meta[2])
local endsAt = tonumber(meta[3])
-- HMGET answers false for a missing field, which tonumber turns into nil.
if total == nil or startsAt == nil or endsAt == nil then
  return 2
end
local user = ARGV[1]
local held = redis.call('HMGET', KEYS[2], '_', user)
if held[1] == false then
  return 2
end

local now = tonumber(ARGV[2])
if now == nil then
  return redis.error_reply('ERR issueCoupon: now must be a number')
end
if startsAt > 0 and now < startsAt then
  return 3
end
if endsAt > 0 and now >= endsAt then
  return 3
end
if held[2] ~= false then
  return 4
end
-- The "_" marker is one field of the hash, so HLEN - 1 coupons have been issued.
if redis.call('HLEN', KEYS[2]) - 1 >= total then
  return 5
end

redis.call('HSET', KEYS[2], user, ARGV[2])
redis.call('XADD', KEYS[3], '*', 'u', user, 't', ARGV[2])
return 1
