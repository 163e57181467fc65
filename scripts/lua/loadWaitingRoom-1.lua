--[[
  Creates a room's Redis state (admin.waitingRoom.create, or a restore from its Postgres row
  after Redis lost it): no tickets, no credit, its clock starting at `now`. A room already
  loaded is left as it is.

  KEYS[1] the room's hash (keys.waitingRoom(id).room)

  ARGV[1] now (ms epoch, the service's clock)
  ARGV[2] admissions per second (integer >= 1)
  ARGV[3] '1' paused, '0' not
  ARGV[4] opensAt (ms epoch; 0 = open now)
  ARGV[5] pass lifetime in seconds (integer >= 1)
  ARGV[6] name
  ARGV[7] coupon ids as a JSON array
  ARGV[8] product ids as a JSON array

  Returns (codes of lib/reply.lua):
    OK              loaded
    ALREADY_LOADED  the room was there: nothing changed
  Malformed arguments answer an error.
]]
--!include lib/reply.lua
if tonumber(ARGV[1]) == nil or not string.match(ARGV[2], '^[1-9]%d*$') or (ARGV[3] ~= '0' and ARGV[3] ~= '1') or
   not string.match(ARGV[4], '^%d+$') or not string.match(ARGV[5], '^[1-9]%d*$') then
  return redis.error_reply('ERR loadWaitingRoom: now, rate >= 1, paused 0 or 1, opensAt >= 0 and ttl >= 1')
end
if redis.call('HEXISTS', KEYS[1], 'r') == 1 then
  return ALREADY_LOADED
end
redis.call('HSET', KEYS[1], 'n', 0, 'a', 0, 't', ARGV[1], 'r', ARGV[2], 'p', ARGV[3], 'o', ARGV[4],
  'ttl', ARGV[5], 'name', ARGV[6], 'c', ARGV[7], 'pp', ARGV[8])
return OK
