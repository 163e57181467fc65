--[[
  restock: adds units to a product's `available` count after Postgres committed the restock.

  KEYS[1] {inventory}:loaded      marker
  KEYS[2] {inventory}:available   hash productId -> units that can be ordered now
  ARGV[1] productId
  ARGV[2] quantity (> 0)

  Returns (codes of lib/reply.lua):
    {OK, units}                   added; `units` is the new count
    NOT_LOADED                    the marker is missing; nothing written (the rebuild reads the
                                  committed stock, restock included)
    {UNKNOWN_PRODUCT, productId}  the product has no entry; nothing written (the caller repairs
                                  the entry from Postgres, whose stock already includes this
                                  restock)
]]
--!include lib/reply.lua
if redis.call('EXISTS', KEYS[1]) == 0 then
  return NOT_LOADED
end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then
  return {UNKNOWN_PRODUCT, tonumber(ARGV[1])}
end
return {OK, redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2])}
