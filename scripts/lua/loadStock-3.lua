--[[
  loadStock: loads one product's stock computed from Postgres, but ONLY if it is not loaded yet.

  Why "only if absent", atomically: two processes can find the product missing at the same
  time and both read Postgres. The first to get here loads its snapshot; orders then start
  holding stock (decrementing `available`). If the second one overwrote `available` with its
  own, older snapshot, those holds would be forgotten and the same units sold twice. Here the
  second load is refused as a whole and changes nothing.

  Leftover holds are dropped first: with `available` missing they cannot be trusted (every
  script that writes them refuses to run without it). Unsaved orders are different: each was
  answered, and Postgres (the snapshot) does not know it yet. Should any survive the loss of
  `available`, their holds are taken again on top of the snapshot (an order the snapshot
  already counts is skipped), so their units are not sold twice.

  KEYS[1] {stock:<id>}:available   units that can be ordered now
  KEYS[2] {stock:<id>}:holds       hash orderId -> units held
  KEYS[3] {stock:<id>}:unsaved     hash orderId -> JSON record of an order answered from Redis
                                   and not saved in Postgres yet (holdStock-7.lua)
  ARGV[1] productId (the product of KEYS)
  ARGV[2] units available: committed stock minus the units of pending orders
  ARGV[3 ..] orderId, units pairs: the pending orders' holds on this product

  Returns (codes of lib/reply.lua):
    OK              loaded
    ALREADY_LOADED  `available` exists; nothing changed
]]
--!include lib/reply.lua
if redis.call('EXISTS', KEYS[1]) == 1 then
  return ALREADY_LOADED
end
redis.call('DEL', KEYS[2])

-- HSET in chunks: Lua's unpack() has a small stack limit.
local chunk = {}
for i = 3, #ARGV do
  chunk[#chunk + 1] = ARGV[i]
  if #chunk == 1000 then
    redis.call('HSET', KEYS[2], unpack(chunk))
    chunk = {}
  end
end
if #chunk > 0 then
  redis.call('HSET', KEYS[2], unpack(chunk))
end

local units = tonumber(ARGV[2])
local productId = tonumber(ARGV[1])
local unsaved = redis.call('HGETALL', KEYS[3])
for i = 1, #unsaved, 2 do
  local orderId = unsaved[i]
  if redis.call('HEXISTS', KEYS[2], orderId) == 0 then
    local held = 0
    for _, line in ipairs(cjson.decode(unsaved[i + 1]).l) do
      if line[1] == productId then
        held = held + line[2]
      end
    end
    if held > 0 then
      units = units - held
      redis.call('HSET', KEYS[2], orderId, held)
    end
  end
end
redis.call('SET', KEYS[1], units)
return OK
