--[[
  Takes back one issuance that was never confirmed to its caller: with REDIS_WAIT_REPLICAS on,
  issueCoupon-5.lua ran but no replica acknowledged it in time, so the caller is answered
  UNAVAILABLE, and an issuance that Redis could still lose in a failover is not kept behind
  that answer. Only an issuance that is still unpersisted is taken back (its `pending` entry is
  still there); the caller (coupon.persist.ts) also holds the coupon's exclusive persist lock
  and has checked that Postgres has no row for it, so no persistence batch can be inserting it.
  The user's limiter state that `issued` carried for that call (issueCoupon-5.lua) goes with it:
  the taken-back call is then counted by the address limit only.

  KEYS[1] issued   hash: userId -> issuedAt (ms), "_" = loaded marker
  KEYS[2] pending  stream of unpersisted issuances { u, t }

  ARGV[1] userId
  ARGV[2] issuedAt (ms epoch) the issue call recorded
  ARGV[3] id of its `pending` entry (issueCoupon-5.lua's {OK, pendingId})

  Returns (codes of lib/reply.lua):
    {OK, 1}  taken back: the user is no longer in `issued`, the entry is gone from `pending`
    {OK, 0}  nothing to take back: the entry is gone (persisted, or Redis lost it) or is not
             this issuance; nothing changed
]]
--!include lib/reply.lua
--!include lib/pending.lua
local entry = redis.call('XRANGE', KEYS[2], ARGV[3], ARGV[3])[1]
if entry == nil then
  return {OK, 0}
end
local user, at = pending_entry(entry[2])
if user ~= ARGV[1] or at ~= ARGV[2] then
  return {OK, 0}
end
-- Another issuance to the same user cannot exist (one per user), but check before deleting.
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
redis.call('XDEL', KEYS[2], ARGV[3])
if redis.call('XLEN', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[2])
end
return {OK, 1}
