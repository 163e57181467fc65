--[[
  inventoryRead: units that can be ordered now, for some products, read together with the
  marker so a Redis that lost its data is never read as "0 available" or "unknown".

  KEYS[1] {inventory}:loaded      marker
  KEYS[2] {inventory}:available   hash productId -> units that can be ordered now
  ARGV    productIds (at least one)

  Returns:
    {0, v1, v2, ...}  one value per productId: the count, or nil when the product has no entry
    {1}               NOT_LOADED: the marker is missing; rebuild from Postgres first
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {1}
end
local values = redis.call('HMGET', KEYS[2], unpack(ARGV))
local result = {0}
for i = 1, #ARGV do
  result[i + 1] = values[i]
end
return result
