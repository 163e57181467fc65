--[[
  rankingLoad: loads the hourly buckets of the ranking window computed from Postgres `sales`,
  but ONLY if the ranking is not loaded yet (atomically: a second process that read Postgres
  at the same time must not replace buckets that live sales have been counted into since).

  KEYS[1]      {ranking}:loaded   marker
  KEYS[2]      {ranking}:top      cached merge (dropped: it may predate the loss)
  KEYS[3..74]  {ranking}:sold:<yyyymmddhh>, the 72 hourly buckets of the window
  ARGV, for each bucket in KEYS order: ttlSeconds, n, then n pairs of quantity, productId
       (ttlSeconds <= 0: the bucket is left empty)

  Returns (codes of lib/reply.lua):
    OK              loaded
    ALREADY_LOADED  the marker exists; nothing changed
]]
--!include lib/reply.lua
if redis.call('EXISTS', KEYS[1]) == 1 then
  return ALREADY_LOADED
end
redis.call('DEL', KEYS[2])
local a = 1
for k = 3, #KEYS do
  local ttl = tonumber(ARGV[a])
  local n = tonumber(ARGV[a + 1])
  a = a + 2
  redis.call('DEL', KEYS[k])
  if n > 0 and ttl > 0 then
    -- ZADD in chunks: Lua's unpack() has a small stack limit.
    local chunk = {}
    for i = a, a + 2 * n - 1 do
      chunk[#chunk + 1] = ARGV[i]
      if #chunk == 1000 then
        redis.call('ZADD', KEYS[k], unpack(chunk))
        chunk = {}
      end
    end
    if #chunk > 0 then
      redis.call('ZADD', KEYS[k], unpack(chunk))
    end
    redis.call('EXPIRE', KEYS[k], ttl)
  end
  a = a + 2 * n
end
redis.call('SET', KEYS[1], '1')
return OK
