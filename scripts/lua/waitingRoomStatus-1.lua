--[[
  waitingRoom.status: the caller's ticket and the room's admission state at `now`, in one step.
  A ticket seen admitted for the first time gets its pass expiry here (lib/waiting-room.lua).

  KEYS[1] the room's hash (keys.waitingRoom(id).room)

  ARGV[1] user id (decimal)
  ARGV[2] now (ms epoch, the service's clock)

  Returns (codes of lib/reply.lua):
    {OK, ticket, joined, credit, since, rate, paused, opensAt, passExpiresAtMs, 0}
        as joinWaitingRoom-3.lua; ticket 0 = the user has not joined (nothing written)
    NOT_LOADED    no such room in Redis
  Malformed arguments answer an error.
]]
--!include lib/reply.lua
--!include lib/waiting-room.lua
local now = tonumber(ARGV[2])
if now == nil or not string.match(ARGV[1], '^%d+$') then
  return redis.error_reply('ERR waitingRoomStatus: user id must be decimal digits and now a number')
end
local payload = wr_ticket(KEYS[1], ARGV[1], now, false)
if payload == nil then
  return NOT_LOADED
end
return {OK, unpack(payload)}
