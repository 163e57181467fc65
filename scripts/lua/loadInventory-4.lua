--[[
  loadInventory: loads the inventory computed from Postgres, but ONLY if it is not loaded yet.

  Why "only if absent", atomically: two processes can find the marker missing at the same
  time and both read Postgres. The first to get here loads its snapshot and sets the marker;
  orders then start holding stock (decrementing `available`). If the second one overwrote
  `available` with its own, older snapshot, those holds would be forgotten and the same units
  sold twice. Here the second load is refused as a whole and changes nothing.

  Any leftovers in `available` and `holds` are dropped first: with the marker missing they
  cannot be trusted (every script that writes them refuses to run without the marker).
  Unsaved orders are different: each was answered, and Postgres (the snapshot) does not know
  it yet. Should any survive the loss of the marker, their holds are taken again on top of the
  snapshot (an order the snapshot already counts is skipped), so their units are not sold twice.

  KEYS[1] {inventory}:available   hash productId -> units that can be ordered now
  KEYS[2] {inventory}:holds       hash orderId -> JSON [[productId, quantity], ...]
  KEYS[3] {inventory}:loaded      marker
  KEYS[4] {inventory}:unsaved     hash orderId -> JSON record of an order answered from Redis
                                  and not saved in Postgres yet (holdStock-8.lua)
  ARGV[1] n: number of products
  ARGV[2 .. 2n+1]   productId, available pairs
  ARGV[2n+2 ..]     orderId, holdJson pairs

  Returns (codes of lib/reply.lua):
    OK              loaded
    ALREADY_LOADED  the marker exists; nothing changed
]]
--!include lib/reply.lua
if redis.call('EXISTS', KEYS[3]) == 1 then
  return ALREADY_LOADED
end
redis.call('DEL', KEYS[1], KEYS[2])

-- HSET in chunks: Lua's unpack() has a small stack limit.
local function hsetRange(key, first, last)
  local chunk = {}
  for i = first, last do
    chunk[#chunk + 1] = ARGV[i]
    if #chunk == 1000 then
      redis.call('HSET', key, unpack(chunk))
      chunk = {}
    end
  end
  if #chunk > 0 then
    redis.call('HSET', key, unpack(chunk))
  end
end

local n = tonumber(ARGV[1])
hsetRange(KEYS[1], 2, 2 * n + 1)
hsetRange(KEYS[2], 2 * n + 2, #ARGV)

local unsaved = redis.call('HGETALL', KEYS[4])
for i = 1, #unsaved, 2 do
  local orderId = unsaved[i]
  if redis.call('HEXISTS', KEYS[2], orderId) == 0 then
    local held = {}
    for _, line in ipairs(cjson.decode(unsaved[i + 1]).l) do
      redis.call('HINCRBY', KEYS[1], line[1], -line[2])
      held[#held + 1] = {line[1], line[2]}
    end
    redis.call('HSET', KEYS[2], orderId, cjson.encode(held))
  end
end
redis.call('SET', KEYS[3], '1')
return OK
