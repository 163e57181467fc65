--[[
  rankingTop: the best sellers of the window, merged from the hourly buckets and cached.
  A fresh cache is returned as it is, so a crowd of API processes that all find the cache
  stale at once still merges once per cache lifetime.

  KEYS[1]      {ranking}:loaded   marker
  KEYS[2]      {ranking}:top      cache: JSON {"at": ms computed, "items": [[productId, qty], ...]}
  KEYS[3]      {ranking}:merge    scratch sorted set (deleted before returning)
  KEYS[4..75]  {ranking}:sold:<yyyymmddhh>, the 72 hourly buckets of the window
  ARGV[1] now (ms, the service clock)
  ARGV[2] cache lifetime (ms)
  ARGV[3] how many items (the top N)

  Returns (codes of lib/reply.lua):
    {OK, json}  the cache JSON (fresh, or computed now and cached)
    NOT_LOADED  the marker is missing; rebuild from Postgres first
  Order: most units first, ties by lower product id (numerically).
]]
--!include lib/reply.lua
if redis.call('EXISTS', KEYS[1]) == 0 then
  return NOT_LOADED
end
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])

local cached = redis.call('GET', KEYS[2])
if cached then
  local ok, decoded = pcall(cjson.decode, cached)
  if ok and type(decoded) == 'table' and type(decoded.at) == 'number' and decoded.at <= now
    and now < decoded.at + ttl then
    return {OK, cached}
  end
end

local buckets = {}
for k = 4, #KEYS do
  buckets[#buckets + 1] = KEYS[k]
end
local candidates = {}
if redis.call('ZUNIONSTORE', KEYS[3], #buckets, unpack(buckets)) > 0 then
  -- Sorted-set order breaks ties by member string ("10" < "9"), so take every member that
  -- ties with the N-th score and order them here.
  local top = redis.call('ZREVRANGE', KEYS[3], 0, limit - 1, 'WITHSCORES')
  local rows = top
  if #top == 2 * limit then
    rows = redis.call('ZRANGEBYSCORE', KEYS[3], top[#top], '+inf', 'WITHSCORES')
  end
  for i = 1, #rows, 2 do
    candidates[#candidates + 1] = {tonumber(rows[i]), tonumber(rows[i + 1])}
  end
  redis.call('DEL', KEYS[3])
end
table.sort(candidates, function(x, y)
  if x[2] ~= y[2] then
    return x[2] > y[2]
  end
  return x[1] < y[1]
end)

local items = {}
for i = 1, math.min(limit, #candidates) do
  items[i] = '[' .. string.format('%d', candidates[i][1]) .. ',' .. string.format('%d', candidates[i][2]) .. ']'
end
local json = '{"at":' .. string.format('%d', now) .. ',"items":[' .. table.concat(items, ',') .. ']}'
redis.call('SET', KEYS[2], json, 'PX', ttl)
return {OK, json}
