--[[
  holdStock: holds units of ONE product for one order, in that product's slot. A one-line order
  is this one call; a multi-line order calls it once per line, in ascending product id, and
  releases the lines it held when a later one is refused (order.service.ts, ADR 0200).

  KEYS[1] {stock:<id>}:available     units that can be ordered now (absent = not loaded)
  KEYS[2] {stock:<id>}:holds         hash orderId -> units of this product the order holds
  KEYS[3] {stock:<id>}:hold-started  zset orderId -> ms when the hold was taken (orphan sweep)
  KEYS[4] {stock:<id>}:unsaved       hash orderId -> JSON record of an order answered from Redis
                                     and not yet in Postgres (order.persist.ts moves it there)
  KEYS[5] the caller's user limiter of order.create on this product (lib/gcra.lua)
  KEYS[6] the caller's address limiter of order.create on this product
  KEYS[7] {stock:<id>}:unsaved-of:<userId>  hash: the caller's order ids in `unsaved` (-> 1),
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
  ARGV[8] productId (the product of KEYS; only for the reply)
  ARGV[9] quantity (>= 1)

  With a record, the hold and the order are one atomic step: an answered order exists in Redis
  from the moment its stock is held, so a crash of the API right after loses nothing. The
  caller's index (KEYS[7]) names it in the same step; the save removes both together.

  The limits are checked after the loaded check (a call that must wait for a load and is then
  retried is counted once) and before anything else, as coupon.issue's are: the rush's call
  costs one round trip, limits included. A limited call is counted by neither limiter and holds
  nothing; any other call is counted by both, whatever the hold decides.

  Returns (codes of lib/reply.lua):
    OK                          held (or already held for this orderId: a retry changes nothing)
    NOT_LOADED                  the product's stock is not in Redis; nothing changed
    {RATE_LIMITED, retryAfterMs, which}  over the user (1) or address (2) limit; nothing changed
    {OUT_OF_STOCK, productId}   fewer units than asked; nothing changed
]]
--!include lib/reply.lua
--!include lib/gcra.lua
local available = redis.call('GET', KEYS[1])
if available == false then
  return NOT_LOADED
end
local wait, limit = gcra_caller(ARGV, 2, KEYS[5], KEYS[6])
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
local quantity = tonumber(ARGV[9])
if tonumber(available) < quantity then
  return {OUT_OF_STOCK, tonumber(ARGV[8])}
end
redis.call('DECRBY', KEYS[1], quantity)
redis.call('HSET', KEYS[2], orderId, quantity)
redis.call('ZADD', KEYS[3], ARGV[2], orderId)
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[4], orderId, ARGV[7])
  redis.call('HSET', KEYS[7], orderId, 1)
end
return OK
