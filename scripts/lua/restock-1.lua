--[[
  restock: adds units to a product's `available` count after Postgres committed the restock.

  KEYS[1] {stock:<id>}:available   units that can be ordered now (absent = not loaded)
  ARGV[1] quantity (> 0)

  Returns (codes of lib/reply.lua):
    {OK, units}  added; `units` is the new count
    NOT_LOADED   the product's stock is not in Redis; nothing written (its load reads the
                 committed stock, this restock included)
]]
--!include lib/reply.lua
if redis.call('EXISTS', KEYS[1]) == 0 then
  return NOT_LOADED
end
return {OK, redis.call('INCRBY', KEYS[1], ARGV[1])}
