--[[
  inventoryRead: units that can be ordered now, for some products, read together with the
  marker so a Redis that lost its data is never read as "0 available" or "unknown".

  KEYS[1] {inventory}:loaded      marker
  KEYS[2] {inventory}:available   hash productId -> units that can be ordered now
  ARGV    productIds (at least one)

  Returns (codes of lib/reply.lua):
    {OK, {v1, v2, ...}}  one value per productId: the count, or nil when the product has no entry
    NOT_LOADED           the marker is missing; rebuild from Postgres first
]]
--!include lib/reply.lua
if redis.call('EXISTS', KEYS[1]) == 0 then
  return NOT_LOADED
end
return {OK, redis.call('HMGET', KEYS[2], unpack(ARGV))}
