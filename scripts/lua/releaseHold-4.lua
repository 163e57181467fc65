--[[
  releaseHold: ends an order's stock hold, exactly once.
    mode "release": the order did not go through (expired, cancelled, failed to save):
                    its units go back to `available`.
    mode "commit":  the order was paid: its units were sold, `available` already excludes
                    them, so only the hold record is removed.

  KEYS[1] {inventory}:available
  KEYS[2] {inventory}:holds
  KEYS[3] {inventory}:loaded
  KEYS[4] {inventory}:hold-started
  ARGV[1] orderId
  ARGV[2] mode: "release" | "commit"

  Returns (codes of lib/reply.lua):
    OK          done
    NOT_LOADED  inventory missing (a rebuild from Postgres will account for this order)
    NO_HOLD     this order holds nothing (already released or committed): nothing changed
]]
--!include lib/reply.lua
if redis.call('EXISTS', KEYS[3]) == 0 then
  return NOT_LOADED
end
local orderId = ARGV[1]
local encoded = redis.call('HGET', KEYS[2], orderId)
redis.call('ZREM', KEYS[4], orderId)
if encoded == false then
  return NO_HOLD
end
if ARGV[2] == 'release' then
  for _, line in ipairs(cjson.decode(encoded)) do
    redis.call('HINCRBY', KEYS[1], line[1], line[2])
  end
end
redis.call('HDEL', KEYS[2], orderId)
return OK
