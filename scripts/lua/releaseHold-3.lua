--[[
  releaseHold: ends an order's hold on ONE product, exactly once (an order of several products
  has one hold per product, each ended in its own slot).
    mode "release": the order did not go through (expired, cancelled, failed to save, or a
                    later line of it was refused): its units go back to `available`.
    mode "commit":  the order was paid: its units were sold, `available` already excludes
                    them, so only the hold record is removed.

  KEYS[1] {stock:<id>}:available
  KEYS[2] {stock:<id>}:holds
  KEYS[3] {stock:<id>}:hold-started
  ARGV[1] orderId
  ARGV[2] mode: "release" | "commit"

  Returns (codes of lib/reply.lua):
    OK          done
    NOT_LOADED  the product's stock is not in Redis (its load from Postgres accounts for this order)
    NO_HOLD     this order holds nothing of this product (already ended): nothing changed
]]
--!include lib/reply.lua
if redis.call('EXISTS', KEYS[1]) == 0 then
  return NOT_LOADED
end
local orderId = ARGV[1]
local held = redis.call('HGET', KEYS[2], orderId)
redis.call('ZREM', KEYS[3], orderId)
if held == false then
  return NO_HOLD
end
if ARGV[2] == 'release' then
  redis.call('INCRBY', KEYS[1], held)
end
redis.call('HDEL', KEYS[2], orderId)
return OK
