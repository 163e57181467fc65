--[[
  inventorySetIfMissing: gives a product its `available` entry when it has none.
  Used for a new product (before its row commits, so nobody can have touched the entry yet) and
  to repair an entry that a rebuild missed. A product with no entry cannot be held (holdStock
  refuses it) or restocked in Redis (restock refuses it), so Postgres' committed stock is all
  there is to know; an existing entry always wins, because holds may have changed it since.

  KEYS[1] {inventory}:loaded      marker
  KEYS[2] {inventory}:available   hash productId -> units that can be ordered now
  ARGV[1] productId
  ARGV[2] units

  Returns (codes of lib/reply.lua):
    {OK, units}  the entry now holds `units` (written now, or already there: its current value)
    NOT_LOADED   the marker is missing; nothing written (the rebuild will include it)
]]
--!include lib/reply.lua
if redis.call('EXISTS', KEYS[1]) == 0 then
  return NOT_LOADED
end
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
return {OK, tonumber(redis.call('HGET', KEYS[2], ARGV[1]))}
