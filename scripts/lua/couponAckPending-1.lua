--[[
  Acknowledges issuances that are now in Postgres: deletes exactly those stream entries, and
  the stream itself once it is empty, so nothing is left behind in Redis. Deleting specific
  ids (never trimming) is safe when two drainers overlap: each deletes only what it inserted,
  and deleting an id twice is a no-op.

  KEYS[1] pending  stream of unpersisted issuances
  ARGV[1..n]       entry ids to delete

  Returns (codes of lib/reply.lua):
    {OK, deleted}  the number of entries deleted
]]
--!include lib/reply.lua
local deleted = 0
-- unpack() is bounded by Lua's C stack, so delete in slices.
for i = 1, #ARGV, 1000 do
  deleted = deleted + redis.call('XDEL', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if redis.call('XLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
end
return {OK, deleted}
