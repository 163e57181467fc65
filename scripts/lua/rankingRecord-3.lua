--[[
  rankingRecord: counts units sold in one hourly bucket (called after a payment committed) and
  drops the cached top list, so the next product.top read includes this sale (a read storm
  with no sales still costs one merge per cache lifetime; with sales, at most one per sale).

  KEYS[1] {ranking}:loaded             marker: the buckets were loaded from Postgres
  KEYS[2] {ranking}:sold:<yyyymmddhh>  sorted set productId -> units sold in that UTC hour
  KEYS[3] {ranking}:top                cached merge
  ARGV[1] seconds the bucket must live from now (> 0)
  ARGV[2..] productId, quantity pairs

  Returns (codes of lib/reply.lua):
    OK          counted
    NOT_LOADED  the marker is missing; nothing written. The sale is already in Postgres, and the
                rebuild that the next read triggers counts it from there (counting it here too
                would count it twice).
]]
--!include lib/reply.lua
if redis.call('EXISTS', KEYS[1]) == 0 then
  return NOT_LOADED
end
for i = 2, #ARGV, 2 do
  redis.call('ZINCRBY', KEYS[2], ARGV[i + 1], ARGV[i])
end
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
return OK
