--[[
  Loads a coupon's hot-path state (meta and the issued hash) from Postgres, but only when Redis
  does not hold it: a live coupon is never touched, so a restore can never race a coupon into
  over-issuing. The issued hash becomes the union of the Postgres rows, whatever `issued`
  still holds and every unpersisted issuance in `pending`, so it counts every issuance that
  survived; after a flush the unpersisted ones are gone with `pending` itself (Redis runs with
  AOF everysec to keep that window at about one second).
  Also used to load a newly created coupon (no rows).

  KEYS[1] meta     hash: total, startsAt, endsAt, validDays
  KEYS[2] issued   hash: userId -> issuedAt (ms), "_" = loaded marker
  KEYS[3] pending  stream of unpersisted issuances { u, t }

  ARGV[1] total
  ARGV[2] startsAt (ms epoch, 0 = open)
  ARGV[3] endsAt (ms epoch, 0 = open)
  ARGV[4] validDays (0 = no expiry)
  ARGV[5] expireAt (ms epoch at which meta and issued expire, 0 = never); must be in the future
  ARGV[6], ARGV[7], ... pairs of userId, issuedAt (ms) from Postgres issued_coupons

  Returns (codes of lib/reply.lua):
    {OK, issuedCount}              state loaded; issuedCount = issuances now counted
    {ALREADY_LOADED, issuedCount}  meta and the marker were present; nothing changed
]]
--!include lib/reply.lua
--!include lib/pending.lua
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('HEXISTS', KEYS[2], '_') == 1 then
  return { ALREADY_LOADED, redis.call('HLEN', KEYS[2]) - 1 }
end

for i = 6, #ARGV - 1, 2 do
  redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1])
end

local entries = redis.call('XRANGE', KEYS[3], '-', '+')
for _, entry in ipairs(entries) do
  local user, at = pending_entry(entry[2])
  if user ~= nil and at ~= nil then
    redis.call('HSETNX', KEYS[2], user, at)
  end
end

redis.call('HSET', KEYS[2], '_', '1')
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'total', ARGV[1], 'startsAt', ARGV[2], 'endsAt', ARGV[3], 'validDays', ARGV[4])
local expireAt = tonumber(ARGV[5])
if expireAt ~= nil and expireAt > 0 then
  redis.call('PEXPIREAT', KEYS[1], expireAt)
  redis.call('PEXPIREAT', KEYS[2], expireAt)
end
return { OK, redis.call('HLEN', KEYS[2]) - 1 }
