--[[
  forgetIdleProduct: takes a product off the active list (keys.ts, activeProducts) only if it
  was not registered again since `cutoff`. The caller has just seen the product's slot empty
  (no unsaved order, no unmatched hold); a hold that lands after that look registers the
  product again before its answer (a newer score, which keeps it listed here, or a ZADD that
  lists it again after this removal), so no answered order is left where nobody looks.

  KEYS[1] {stock-index}:active   zset productId -> ms it was last registered
  ARGV[1] productId
  ARGV[2] cutoff (ms): registrations at or before it count as idle

  Returns (codes of lib/reply.lua):
    {OK, removed}  1 if the product was taken off, 0 if it is absent or was registered since
]]
--!include lib/reply.lua
local score = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
if score ~= nil and score <= tonumber(ARGV[2]) then
  return {OK, redis.call('ZREM', KEYS[1], ARGV[1])}
end
return {OK, 0}
