--[[
  holdStock: holds stock for every line of one order, or for none (all or nothing).

  KEYS[1] {inventory}:available     hash productId -> units that can be ordered now
  KEYS[2] {inventory}:holds         hash orderId -> JSON [[productId, quantity], ...]
  KEYS[3] {inventory}:loaded        marker: `available` was loaded from Postgres
  KEYS[4] {inventory}:hold-started  zset orderId -> ms when the hold was taken (orphan sweep)
  KEYS[5] {inventory}:unsaved       hash orderId -> JSON record of an order answered from Redis
                                    and not yet in Postgres (order.persist.ts moves it there)
  KEYS[6] the caller's user limiter of order.create (lib/gcra.lua; in this slot on purpose)
  KEYS[7] the caller's address limiter of order.create
  KEYS[8] {inventory}:unsaved-of:<userId>  hash: the caller's order ids in `unsaved` (-> 1),
                                    so a read of the caller's orders saves just those first
                                    (a hash, not a set: a small one is a listpack, cheaper
                                    to create than a set of strings in Redis 7.0)
  ARGV[1] orderId
  ARGV[2] now (ms)
  ARGV[3], ARGV[4] user limit: interval (µs per request, >= 1) and burst (>= 1), or 'off'
  ARGV[5], ARGV[6] address limit, the same way ('off' both when the caller counted the call
          already, or is not limited)
  ARGV[7] the order's record for `unsaved`, or '' when the caller saves the order in Postgres
          itself (then the hold waits for that insert, and the orphan sweep covers a crash)
  ARGV[8..] productId, quantity pairs (distinct products, quantity >= 1)

  With a record, the hold and the order are one atomic step: an answered order exists in Redis
  from the moment its stock is held, so a crash of the API right after loses nothing. The
  caller's index (KEYS[8]) names it in the same step; the save removes both together.

  The limits are checked after the loaded marker (a call that must wait for a rebuild and is
  then retried is counted once) and before anything else, as coupon.issue's are: the rush's
  call costs one round trip, limits included. A limited call is counted by neither limiter and
  holds nothing; any other call is counted by both, whatever the hold decides.

  Returns (codes of lib/reply.lua):
    OK                          held (or already held for this orderId: a retry changes nothing)
    NOT_LOADED                  inventory missing from Redis (flush/restart); nothing changed
    {RATE_LIMITED, retryAfterMs, which}  over the user (1) or address (2) limit; nothing changed
    {OUT_OF_STOCK, productId}     that product has fewer units than asked; nothing changed
    {UNKNOWN_PRODUCT, productId}  that product has no inventory entry; nothing changed
]]
--!include lib/reply.lua
--!include lib/gcra.lua
if redis.call('EXISTS', KEYS[3]) == 0 then
  return NOT_LOADED
end
local wait, limit = gcra_caller(ARGV, 2, KEYS[6], KEYS[7])
if wait == nil then
  return redis.error_reply("ERR holdStock: now must be a number; each limit 'off' or interval and burst >= 1")
end
if wait ~= 0 then
  return {RATE_LIMITED, wait, limit}
end
local orderId = ARGV[1]
if redis.call('HEXISTS', KEYS[2], orderId) == 1 then
  return OK
end

-- Check every line before changing anything, so a refusal leaves no partial hold.
local lines = {}
for i = 8, #ARGV, 2 do
  local productId = ARGV[i]
  local quantity = tonumber(ARGV[i + 1])
  local available = redis.call('HGET', KEYS[1], productId)
  if available == false then
    return {UNKNOWN_PRODUCT, tonumber(productId)}
  end
  if tonumber(available) < quantity then
    return {OUT_OF_STOCK, tonumber(productId)}
  end
  lines[#lines + 1] = {tonumber(productId), quantity}
end

for _, line in ipairs(lines) do
  redis.call('HINCRBY', KEYS[1], line[1], -line[2])
end
redis.call('HSET', KEYS[2], orderId, cjson.encode(lines))
redis.call('ZADD', KEYS[4], ARGV[2], orderId)
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[5], orderId, ARGV[7])
  redis.call('HSET', KEYS[8], orderId, 1)
end
return OK
