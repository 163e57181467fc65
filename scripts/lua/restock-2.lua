--[[
  restock: adds units to a product's `available` count after Postgres committed the restock.

  KEYS[1] {inventory}:loaded      marker
  KEYS[2] {inventory}:available   hash productId -> units that can be ordered now
  ARGV[1] productId
  ARGV[2] quantity (> 0)

  Returns { code, units }:
    {0, units}  added; `units` is the new count
    {1, 0}      NOT_LOADED: the marker is missing; nothing written (the rebuild reads the
                committed stock, restock included)
    {3, 0}      MISSING: the product has no entry; nothing written (the caller repairs the
                entry from Postgres, whose stock already includes this restock)
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {1, 0}
end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then
  return {3, 0}
end
return {0, redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2])}
