--[[
  holdStock: holds stock for every line of one order, or for none (all or nothing).

  KEYS[1] {inventory}:available     hash productId -> units that can be ordered now
  KEYS[2] {inventory}:holds         hash orderId -> JSON [[productId, quantity], ...]
  KEYS[3] {inventory}:loaded        marker: `available` was loaded from Postgres
  KEYS[4] {inventory}:hold-started  zset orderId -> ms when the hold was taken (orphan sweep)
  KEYS[5] {inventory}:unsaved       hash orderId -> JSON record of an order answered from Redis
                                    and not yet in Postgres (order.persist.ts moves it there)
  ARGV[1] orderId
  ARGV[2] now (ms)
  ARGV[3] the order's record for `unsaved`, or '' when the caller saves the order in Postgres
          itself (then the hold waits for that insert, and the orphan sweep covers a crash)
  ARGV[4..] productId, quantity pairs (distinct products, quantity >= 1)

  With a record, the hold and the order are one atomic step: an answered order exists in Redis
  from the moment its stock is held, so a crash of the API right after loses nothing.

  Returns { code, productId }:
    {0, 0}   held (or already held for this orderId: a retry changes nothing)
    {1, 0}   NOT_LOADED: inventory missing from Redis (flush/restart); nothing changed
    {2, pid} OUT_OF_STOCK: product pid has fewer units than asked; nothing changed
    {3, pid} UNKNOWN_PRODUCT: product pid has no inventory entry; nothing changed
]]
if redis.call('EXISTS', KEYS[3]) == 0 then
  return {1, 0}
end
local orderId = ARGV[1]
if redis.call('HEXISTS', KEYS[2], orderId) == 1 then
  return {0, 0}
end

-- Check every line before changing anything, so a refusal leaves no partial hold.
local lines = {}
for i = 4, #ARGV, 2 do
  local productId = ARGV[i]
  local quantity = tonumber(ARGV[i + 1])
  local available = redis.call('HGET', KEYS[1], productId)
  if available == false then
    return {3, tonumber(productId)}
  end
  if tonumber(available) < quantity then
    return {2, tonumber(productId)}
  end
  lines[#lines + 1] = {tonumber(productId), quantity}
end

for _, line in ipairs(lines) do
  redis.call('HINCRBY', KEYS[1], line[1], -line[2])
end
redis.call('HSET', KEYS[2], orderId, cjson.encode(lines))
redis.call('ZADD', KEYS[4], ARGV[2], orderId)
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[5], orderId, ARGV[3])
end
return {0, 0}
